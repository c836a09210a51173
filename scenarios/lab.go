package scenarios

import "fmt"

// Default is the lab `icmpgw up` and `icmpgw demo` build, the built-in
// scenario "default" (library/default.yaml):
//
//	client gw0 198.51.100.2/24 ── eth0 198.51.100.1 [r1] 203.0.113.1 eth1 ── gw0 203.0.113.2/24 server
//	         MTU 1500                                    MTU 1400
//
// with routes that draw every kind of error, and the demo's probes.
func Default() *Scenario {
	sc, err := Load("default")
	if err != nil {
		panic(fmt.Sprintf("scenarios: the embedded default scenario does not load: %v", err)) // TestLibraryDefault
	}
	return sc
}
