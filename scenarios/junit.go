package scenarios

import (
	"encoding/xml"
	"fmt"
	"io"
)

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes rep as JUnit XML: one test suite, one test case per
// check.
func WriteJUnit(w io.Writer, rep *Report) error {
	s := junitSuite{Name: rep.Scenario, Tests: len(rep.Checks), Time: fmt.Sprintf("%.3f", rep.Took.Seconds())}
	for _, c := range rep.Checks {
		jc := junitCase{Name: c.Name, Classname: "icmpgw." + rep.Scenario, Time: fmt.Sprintf("%.3f", c.Took.Seconds()), SystemOut: c.Output}
		if !c.Pass {
			s.Failures++
			jc.Failure = &junitFailure{
				Message: "expected " + c.Expected + ", observed " + c.Observed,
				Text:    fmt.Sprintf("line %d\nexpected: %s\nobserved: %s\n", c.Pos.Line, c.Expected, c.Observed),
			}
		}
		s.Cases = append(s.Cases, jc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
