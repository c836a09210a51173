package scenarios

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	yamlparser "github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/tun/packet"
)

// ParseError is what is wrong with a scenario file, and where. It prints
// as
//
//	lab.yaml:12:9: topology.routers.r1.routes[0]: got "198.51.100/24 via 198.51.100.2", want a route such as "203.0.113.0/24 via 198.51.100.2" (prefix: ...)
type ParseError struct {
	File string
	// Line and Column are of the offending node, from 1. Line 0 is the
	// file as a whole, refused before it is read (a directory, a FIFO);
	// the message then has no position.
	Line, Column int
	Path         string // the field, e.g. topology.routers.r1.routes[0]; empty for the file as a whole
	// Got is what the file has, as printed: quoted text for a string,
	// other scalars as written, or a description such as "a mapping".
	Got string
	// Want is what would have been accepted, with the reason in
	// parentheses when there is one.
	Want string
}

// Error prints long values cut short (see clipValues); the fields keep
// them whole.
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(clipValues(e.Path))
		b.WriteString(": ")
	}
	got := clipValues(e.Got)
	if len(got) > maxGotLen {
		got = headBytes(got, maxGotLen) + fmt.Sprintf("… (%d bytes)", len(e.Got))
	}
	fmt.Fprintf(&b, "got %s, want %s", got, clipValues(e.Want))
	return b.String()
}

// A message repeats enough of a value to find it in the file, not the
// 900 KB one line of a file can hold.
const (
	maxQuotedLen = 60  // bytes of one quoted value in a message
	maxGotLen    = 200 // bytes of Got after that, such as a long number
)

// clipValues shortens each quoted value in s ("..." or `...`) written
// in more than maxQuotedLen bytes to its start, marked with "…" and
// followed by its length, as in "aaaa…" (900000 bytes). Shorter values
// are left as they are.
func clipValues(s string) string {
	if len(s) <= maxQuotedLen {
		return s
	}
	var b strings.Builder
	for s != "" {
		i := strings.IndexAny(s, "\"`")
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			b.WriteByte(s[0])
			s = s[1:]
			continue
		}
		s = s[len(q):]
		if len(q)-2 <= maxQuotedLen {
			b.WriteString(q)
			continue
		}
		v, _ := strconv.Unquote(q)
		if q[0] == '`' {
			b.WriteString("`" + headBytes(v, maxQuotedLen) + "…`")
		} else {
			b.WriteString(strconv.Quote(quotedHead(v, maxQuotedLen) + "…"))
		}
		fmt.Fprintf(&b, " (%d bytes)", len(v))
	}
	b.WriteString(s)
	return b.String()
}

// headBytes is at most the first n bytes of s, ending on a whole UTF-8
// sequence.
func headBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// quotedHead is the longest start of s that strconv.Quote writes in at
// most n bytes, quotes aside: escapes such as \x01 count in full.
func quotedHead(s string, n int) string {
	size := 0
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		if size += len(strconv.Quote(s[i:i+w])) - 2; size > n {
			return s[:i]
		}
		i += w
	}
	return s
}

// Limits that keep hostile input cheap: the YAML parser's time and memory
// grow with the square of the nesting depth.
const (
	maxFileSize   = 1 << 20
	maxFlowDepth  = 32  // nested [ and {
	maxBlockDepth = 128 // column of a block "-", "?" or key
	maxNodes      = 100_000
	maxNameLen    = 20 // hosts and routers
	maxIfaceLen   = 15 // IFNAMSIZ - 1
)

// Defaults Parse fills in.
const (
	DefaultIface        = "gw0"
	DefaultMTU          = 1500
	DefaultRunTimeout   = 30 * time.Second
	DefaultProbeTimeout = 2 * time.Second
)

// Parse reads a scenario file (YAML; the keys are in scenarios/README.md)
// and checks it whole: names, addresses, subnets, links, routes, times,
// regular expressions. file names data in messages. Every error is a
// *ParseError naming the line and column of the offending node. Parse
// never executes anything.
func Parse(file string, data []byte) (s *Scenario, err error) {
	p := &parser{file: file}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			s, err = nil, b.err
		}
	}()
	root := p.load(data, fileDoc)
	s = &Scenario{File: file, About: about(data)}
	p.s = s
	p.scenario(root)
	return s, nil
}

// bailout carries a *ParseError from deep in the parser up to Parse,
// as go/parser and text/template do.
type bailout struct{ err *ParseError }

type parser struct {
	file string
	s    *Scenario

	// From the YAML text to nodes.
	anchors map[string]*node
	count   int

	hosts   map[string]*HostSpec
	routers map[string]*RouterSpec
	// ends maps an endpoint to the link it is on.
	ends map[Endpoint]*LinkSpec
}

func (p *parser) fail(n *node, path, got, want string) {
	panic(bailout{&ParseError{File: p.file, Line: n.line, Column: n.col, Path: path, Got: got, Want: want}})
}

func (p *parser) failAt(line, col int, path, got, want string) {
	panic(bailout{&ParseError{File: p.file, Line: line, Column: col, Path: path, Got: got, Want: want}})
}

// about is the file's first block of comment lines, without the "#",
// lines joined with "\n".
func about(data []byte) string {
	text := strings.TrimPrefix(string(data), "\uFEFF")
	var lines []string
	for l := range strings.Lines(text) {
		t := strings.TrimSpace(l)
		if t == "" {
			if len(lines) > 0 {
				break
			}
			continue
		}
		if !strings.HasPrefix(t, "#") {
			break
		}
		t = strings.TrimPrefix(t, "#")
		t = strings.TrimPrefix(t, " ")
		lines = append(lines, t)
	}
	return strings.Join(lines, "\n")
}

// --- From YAML to nodes ---

type kind uint8

const (
	nullNode kind = iota
	stringNode
	intNode
	floatNode
	boolNode
	mapNode
	listNode
)

// node is a YAML value with its position. Maps keep the file's order.
type node struct {
	kind      kind
	line, col int
	text      string  // scalars: the value as written (strings unquoted)
	keys      []*node // mapNode
	vals      []*node // mapNode
	items     []*node // listNode
	size      int     // nodes in this subtree, aliases counted in full
}

// docKind is what load reads, as messages name it.
type docKind struct {
	empty string // the Got of no YAML at all
	want  string // a mapping
	one   string // the Want of a second document
}

var (
	fileDoc = docKind{"an empty file", "a mapping with at least name and topology", "one document per file"}
	// The example is a change README.md shows, on a link Default has.
	changeDoc = docKind{"an empty change", "a mapping such as {link: r1:eth1, state: down}", "one change at a time"}
)

// load parses data into nodes: one YAML document whose top is a mapping.
func (p *parser) load(data []byte, in docKind) *node {
	start := &node{line: 1, col: 1}
	if len(data) > maxFileSize {
		panic(bailout{tooBig(p.file, int64(len(data)))})
	}
	p.checkText(data, in)
	// A byte order mark is not YAML's business; editors on Windows add it.
	tokens := lexer.Tokenize(strings.TrimPrefix(string(data), "\uFEFF"))
	p.checkDepth(tokens)
	f, err := parseYAML(tokens)
	if err != nil {
		line, col, msg := 1, 1, err.Error()
		if ye, ok := err.(yaml.Error); ok {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				line, col = tk.Position.Line, tk.Position.Column
			}
		}
		p.failAt(line, col, "", "invalid YAML ("+msg+")", "YAML such as the examples in scenarios/README.md")
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		p.fail(start, "", in.empty, in.want)
	}
	if len(docs) > 1 {
		line, col := pos(docs[1].Body, start)
		p.failAt(line, col, "", "a second YAML document", in.one)
	}
	p.anchors = map[string]*node{}
	root := p.node(docs[0].Body, "", start, 0)
	if root.kind != mapNode {
		p.fail(root, "", describe(root), in.want)
	}
	return root
}

// checkText refuses data that is not YAML's printable UTF-8 (YAML 1.2
// §5.1, c-printable) at the first byte that is not. The lexer reads
// binary as text, so that a file of junk was called empty or a string.
func (p *parser) checkText(data []byte, in docKind) {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		var got string
		switch {
		case r == utf8.RuneError && w == 1:
			got = fmt.Sprintf("binary data (the byte 0x%02x is not UTF-8)", data[i])
		case !printable(r):
			got = fmt.Sprintf("binary data (the control character %U)", r)
		}
		if got != "" {
			p.failAt(line, col, "", got, in.want)
		}
		if col++; r == '\n' {
			line, col = line+1, 1
		}
		i += w
	}
}

// printable is YAML 1.2's c-printable.
func printable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r < 0x20 || r == 0x7f:
		return false
	case r < 0x7f:
		return true
	}
	return r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
}

// tooBig is the error for a file of size bytes, above maxFileSize.
func tooBig(file string, size int64) *ParseError {
	return &ParseError{File: file, Line: 1, Column: 1, Got: fmt.Sprintf("%d bytes", size), Want: fmt.Sprintf("a scenario file of at most %d bytes", maxFileSize)}
}

// parseYAML runs the YAML parser, turning a panic in it into an error so
// that Parse never panics.
func parseYAML(tokens token.Tokens) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed: %v", r)
		}
	}()
	// Duplicate keys are reported by node, with their path.
	return yamlparser.Parse(tokens, 0, yamlparser.AllowDuplicateMapKey())
}

// checkDepth refuses deeply nested YAML before it reaches the parser,
// whose cost grows with the square of the depth.
func (p *parser) checkDepth(tokens token.Tokens) {
	depth := 0
	for _, tk := range tokens {
		if tk.Position == nil {
			continue
		}
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			depth++
			if depth > maxFlowDepth {
				p.failAt(tk.Position.Line, tk.Position.Column, "", fmt.Sprintf("more than %d nested [ and {", maxFlowDepth), "a scenario file")
			}
		case token.SequenceEndType, token.MappingEndType:
			depth = max(depth-1, 0)
		case token.SequenceEntryType, token.MappingKeyType, token.MappingValueType:
			col := tk.Position.Column
			if tk.Type == token.MappingValueType && tk.Prev != nil && tk.Prev.Position != nil {
				col = tk.Prev.Position.Column
			}
			if depth == 0 && col > maxBlockDepth {
				p.failAt(tk.Position.Line, tk.Position.Column, "", fmt.Sprintf("a block nested beyond column %d", maxBlockDepth), "a scenario file")
			}
		}
	}
}

// pos is where n starts: for a block mapping, its first key rather than
// the parser's token, the first ':'.
func pos(n ast.Node, fallback *node) (line, col int) {
	switch m := n.(type) {
	case *ast.MappingNode:
		if m.Start != nil && m.Start.Type != token.MappingStartType && len(m.Values) > 0 {
			return pos(m.Values[0].Key, fallback)
		}
	case *ast.MappingValueNode:
		return pos(m.Key, fallback)
	}
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			return tk.Position.Line, tk.Position.Column
		}
	}
	return fallback.line, fallback.col
}

// node converts a YAML AST node. parent gives the position of a missing
// value.
func (p *parser) node(an ast.Node, path string, parent *node, depth int) *node {
	line, col := pos(an, parent)
	n := &node{line: line, col: col, size: 1}
	if depth > 2*maxFlowDepth {
		p.fail(n, path, "YAML nested too deep", "a scenario file")
	}
	switch an := an.(type) {
	case nil:
	case *ast.NullNode:
		if an.Token == nil || an.Token.Type == token.ImplicitNullType {
			n.line, n.col = parent.line, parent.col // "key:" and nothing
		}
	case *ast.StringNode:
		n.kind, n.text = stringNode, an.Value
	case *ast.LiteralNode:
		n.kind = stringNode
		if an.Value != nil {
			n.text = an.Value.Value
		}
	case *ast.IntegerNode:
		n.kind, n.text = intNode, an.Token.Value
	case *ast.FloatNode:
		n.kind, n.text = floatNode, an.Token.Value
	case *ast.InfinityNode:
		n.kind, n.text = floatNode, an.Token.Value
	case *ast.NanNode:
		n.kind, n.text = floatNode, an.Token.Value
	case *ast.BoolNode:
		n.kind, n.text = boolNode, strconv.FormatBool(an.Value)
	case *ast.MappingNode:
		if text, ok := glued(an); ok {
			n.kind, n.text = stringNode, text
			break
		}
		n.kind = mapNode
		for _, mv := range an.Values {
			p.pair(n, mv, path, depth)
		}
	case *ast.MappingValueNode:
		n.kind = mapNode
		p.pair(n, an, path, depth)
	case *ast.SequenceNode:
		n.kind = listNode
		for i, v := range an.Values {
			item := p.node(v, index(path, i), n, depth+1)
			n.items = append(n.items, item)
			n.size += item.size
		}
	case *ast.AnchorNode:
		v := p.node(an.Value, path, n, depth+1)
		if an.Name != nil {
			p.anchors[an.Name.String()] = v
		}
		return v
	case *ast.AliasNode:
		name := ""
		if an.Value != nil {
			name = an.Value.String()
		}
		v, ok := p.anchors[name]
		if !ok {
			p.fail(n, path, "*"+name, "an alias to an anchor defined above it")
		}
		p.count += v.size
		if p.count > maxNodes {
			p.fail(n, path, fmt.Sprintf("more than %d values", maxNodes), "a scenario file")
		}
		return v
	case *ast.TagNode:
		p.fail(n, path, "the tag "+strconv.Quote(an.Start.Value), "a value without a YAML tag")
	default:
		p.fail(n, path, "YAML "+an.Type().String(), "a scalar, list or mapping")
	}
	p.count++
	if p.count > maxNodes {
		p.fail(n, path, fmt.Sprintf("more than %d values", maxNodes), "a scenario file")
	}
	return n
}

// pair adds mv's key and value to the mapping m.
func (p *parser) pair(m *node, mv *ast.MappingValueNode, path string, depth int) {
	var kn ast.Node = mv.Key
	if mk, ok := kn.(*ast.MappingKeyNode); ok {
		kn = mk.Value
	}
	var k *node
	if mk, ok := kn.(*ast.MergeKeyNode); ok {
		line, col := pos(mk, m)
		k = &node{kind: stringNode, line: line, col: col, text: "<<", size: 1}
	} else {
		k = p.node(kn, path, m, depth+1)
	}
	if k.kind == mapNode || k.kind == listNode || k.kind == nullNode {
		p.fail(k, path, describe(k)+" as a key", "a plain key")
	}
	kpath := field(path, k.text)
	for i, prev := range m.keys {
		if prev.text == k.text {
			p.fail(k, kpath, "the key "+strconv.Quote(k.text)+" again", fmt.Sprintf("each key once (%s is at line %d)", strconv.Quote(k.text), m.keys[i].line))
		}
	}
	v := p.node(mv.Value, kpath, k, depth+1)
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
	m.size += k.size + v.size
}

// glued reports whether m is really the plain scalar "a:b". The YAML
// parser splits a plain scalar with a colon in it into a mapping when it
// is inside a flow sequence inside a flow mapping, as in
// {ends: [r1:eth1, r2:eth0]}; YAML says a ':' not followed by a space is
// part of the scalar.
func glued(m *ast.MappingNode) (string, bool) {
	if m.Start == nil || m.Start.Type == token.MappingStartType || len(m.Values) != 1 {
		return "", false
	}
	mv := m.Values[0]
	k, ok := mv.Key.(*ast.StringNode)
	if !ok || k.Token == nil || k.Token.Type != token.StringType || mv.Start == nil || mv.Value == nil {
		return "", false
	}
	colon, vt := mv.Start.Position, mv.Value.GetToken()
	kp := k.Token.Position
	if kp == nil || colon == nil || vt == nil || vt.Position == nil ||
		kp.Line != colon.Line || vt.Position.Line != colon.Line ||
		kp.Column+len(k.Token.Value) != colon.Column || vt.Position.Column != colon.Column+1 {
		return "", false
	}
	var rest string
	switch v := mv.Value.(type) {
	case *ast.MappingNode:
		if rest, ok = glued(v); !ok {
			return "", false
		}
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode, *ast.InfinityNode, *ast.NanNode:
		if vt.Type == token.SingleQuoteType || vt.Type == token.DoubleQuoteType {
			return "", false
		}
		rest = vt.Value
	default:
		return "", false
	}
	return k.Value + ":" + rest, true
}

func field(path, key string) string {
	if path == "" {
		return plain(key)
	}
	return path + "." + plain(key)
}

// plain is s as written if it is made of letters, digits and -_.:/<>,
// else quoted: file text in a message never reaches a terminal raw. A
// long s is quoted too, so that the message can cut it short.
func plain(s string) string {
	if len(s) > maxQuotedLen {
		return strconv.Quote(s)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:/<>", c)) {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// describe is how a node is printed after "got".
func describe(n *node) string {
	switch n.kind {
	case nullNode:
		return "nothing"
	case stringNode:
		return strconv.Quote(n.text)
	case mapNode:
		if len(n.keys) == 0 {
			return "an empty mapping"
		}
		return "a mapping"
	case listNode:
		switch len(n.items) {
		case 0:
			return "an empty list"
		case 1:
			return "a list of 1 item"
		}
		return fmt.Sprintf("a list of %d items", len(n.items))
	}
	return n.text
}

// --- Typed values ---

// object is a mapping whose keys have been checked against a list.
type object struct {
	n    *node
	path string
	keys map[string]*node
	vals map[string]*node
}

// object checks that n is a mapping with no keys but allowed ones. A
// missing value (null) is an empty mapping.
func (p *parser) object(n *node, path, want string, allowed ...string) *object {
	o := &object{n: n, path: path, keys: map[string]*node{}, vals: map[string]*node{}}
	if n.kind == nullNode {
		return o
	}
	if n.kind != mapNode {
		p.fail(n, path, describe(n), want)
	}
	for i, k := range n.keys {
		if !slices.Contains(allowed, k.text) {
			p.fail(k, field(path, k.text), "the key "+strconv.Quote(k.text), "one of "+strings.Join(allowed, ", "))
		}
		o.keys[k.text] = k
		if n.vals[i].kind != nullNode {
			o.vals[k.text] = n.vals[i]
		}
	}
	return o
}

// get is the value of key, or nil when it is missing or empty.
func (o *object) get(key string) *node { return o.vals[key] }

func (o *object) path1(key string) string { return field(o.path, key) }

// require is the value of key; it fails when the key is missing.
func (p *parser) require(o *object, key, want string) *node {
	v := o.get(key)
	if v == nil {
		n := o.n
		if k := o.keys[key]; k != nil {
			n = k
		}
		p.fail(n, o.path1(key), "nothing", want)
	}
	return v
}

// only fails if more than one of keys is present; it returns the one
// present, or "".
func (p *parser) only(o *object, keys ...string) string {
	first := ""
	for _, k := range o.n.keys {
		if !slices.Contains(keys, k.text) || o.get(k.text) == nil {
			continue
		}
		if first != "" {
			p.fail(k, o.path1(k.text), k.text+" together with "+first, "only one of "+strings.Join(keys, ", "))
		}
		first = k.text
	}
	return first
}

// list checks that n is a list; a missing value (nil or null) is an
// empty list.
func (p *parser) list(n *node, path, want string) []*node {
	if n == nil {
		return nil
	}
	switch n.kind {
	case nullNode:
		return nil
	case listNode:
		return n.items
	}
	p.fail(n, path, describe(n), want)
	return nil
}

// str is a scalar's text. Numbers are accepted as written (a host may be
// called 1); booleans, lists and mappings are not.
func (p *parser) str(n *node, path, want string) string {
	switch n.kind {
	case stringNode, intNode, floatNode:
		return n.text
	}
	p.fail(n, path, describe(n), want)
	return ""
}

func (p *parser) boolean(n *node, path string) bool {
	if n.kind != boolNode {
		p.fail(n, path, describe(n), "true or false")
	}
	return n.text == "true"
}

// integer is an integer in [lo, hi].
func (p *parser) integer(n *node, path, want string, lo, hi int64) int64 {
	if n.kind == intNode {
		if leadingZero(n.text) {
			p.fail(n, path, describe(n), want+" (without a leading 0)")
		}
		if v, err := strconv.ParseInt(n.text, 0, 64); err == nil && v >= lo && v <= hi {
			return v
		}
	}
	p.fail(n, path, describe(n), want)
	return 0
}

// leadingZero reports an integer such as 0644, which YAML 1.1 reads as
// octal and YAML 1.2 as decimal.
func leadingZero(text string) bool {
	t := strings.TrimLeft(text, "+-")
	return len(t) > 1 && t[0] == '0' && t[1] >= '0' && t[1] <= '9'
}

// duration is a Go duration ≥ 0: "5s", "100ms", "1m30s", or 0.
func (p *parser) duration(n *node, path string) time.Duration {
	if n.kind == intNode && n.text == "0" {
		return 0
	}
	if n.kind == stringNode {
		d, err := time.ParseDuration(n.text)
		if err == nil && d >= 0 {
			return d
		}
		if err == nil {
			p.fail(n, path, describe(n), "a duration of 0 or more, such as 5ms")
		}
	}
	p.fail(n, path, describe(n), "a duration such as 5s, 100ms or 1m30s")
	return 0
}

func (p *parser) addr(n *node, path, want string) netip.Addr {
	s := p.str(n, path, want)
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		p.fail(n, path, describe(n), want)
	}
	return a
}

// hostPrefix is an address with its prefix length, 198.18.0.10/24: not
// the subnet's own address nor, below /31, its broadcast address.
func (p *parser) hostPrefix(n *node, path, example string) netip.Prefix {
	want := "an IPv4 address with its prefix length, such as " + example
	s := p.str(n, path, want)
	pfx, err := netip.ParsePrefix(s)
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() == 0 {
		p.fail(n, path, describe(n), want)
	}
	if pfx.Bits() <= 30 {
		if pfx.Addr() == pfx.Masked().Addr() {
			p.fail(n, path, describe(n), want+" (that is the subnet's own address)")
		}
		if pfx.Addr() == broadcast(pfx) {
			p.fail(n, path, describe(n), want+" (that is the subnet's broadcast address)")
		}
	}
	return pfx
}

// prefix is a subnet, 203.0.113.0/24, or default.
func (p *parser) prefix(n *node, path, want string) netip.Prefix {
	s := p.str(n, path, want)
	if s == "default" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil || !pfx.Addr().Is4() {
		p.fail(n, path, describe(n), want)
	}
	if pfx != pfx.Masked() {
		p.fail(n, path, describe(n), fmt.Sprintf("%s (host bits are set: %s)", want, pfx.Masked()))
	}
	return pfx
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= math.MaxUint32 >> p.Bits()
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// name is a host or router name: lowercase letters, digits and '-',
// starting with a letter or digit, at most 20 characters.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ifaceRE is an interface name; ':' is left out because it separates
// router and interface in a link end.
var ifaceRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

const nameWant = "a name of lowercase letters, digits and '-', starting with a letter or digit, at most 20 characters"

const ifaceWant = "an interface name of letters, digits, '_', '.' and '-', at most 15 characters, such as eth0"

// reservedIfaces are the names a host's TUN device cannot take in the
// host's new namespace, with the reason: lo is there already, Linux
// refuses all and default, and a tunnel module, once loaded, adds its
// fallback device to every namespace (net.core.fb_tunnels_only_for_init_net
// is 0 by default).
var reservedIfaces = map[string]string{
	"lo":       "which every namespace has",
	"all":      "which Linux keeps for /proc/sys/net/ipv4/conf/all",
	"default":  "which Linux keeps for /proc/sys/net/ipv4/conf/default",
	"tunl0":    "which the ipip module adds to every namespace",
	"gre0":     "which the ip_gre module adds to every namespace",
	"gretap0":  "which the ip_gre module adds to every namespace",
	"erspan0":  "which the ip_gre module adds to every namespace",
	"ip_vti0":  "which the ip_vti module adds to every namespace",
	"sit0":     "which the sit module adds to every namespace",
	"ip6tnl0":  "which the ip6_tunnel module adds to every namespace",
	"ip6gre0":  "which the ip6_gre module adds to every namespace",
	"ip6_vti0": "which the ip6_vti module adds to every namespace",
}

func (p *parser) name(n *node, path string) string {
	s := p.str(n, path, nameWant)
	if !nameRE.MatchString(s) || len(s) > maxNameLen {
		p.fail(n, path, describe(n), nameWant)
	}
	return s
}

func (p *parser) iface(n *node, path string) string {
	s := p.str(n, path, ifaceWant)
	if !ifaceRE.MatchString(s) || len(s) > maxIfaceLen {
		p.fail(n, path, describe(n), ifaceWant)
	}
	return s
}

// --- The scenario ---

var (
	topKeys      = []string{"name", "seed", "topology", "timeline", "steps", "expect"}
	topologyKeys = []string{"hosts", "routers", "links"}
	hostKeys     = []string{"addr", "gw", "iface", "routes", "accept_redirects"}
	routerKeys   = []string{"ifaces", "routes", "icmp"}
	icmpKeys     = []string{"silent", "ratelimit", "quote", "source", "ttl", "redirects", "echo", "delay"}
	linkKeys     = []string{"ends", "mtu", "delay", "jitter", "loss", "down"}
	eventKeys    = []string{"at", "link", "state", "delay", "jitter", "loss", "router", "route", "icmp", "flap"}
	stepKeys     = []string{"at", "after", "on", "run", "probe", "timeout", "expect"}
	probeKeys    = []string{"udp", "tcp", "echo", "redirect", "proto", "to", "ttl", "size", "df", "count"}
	expectKeys   = []string{"exit", "output", "no_output", "errno", "icmp", "answered", "reply", "no_answer", "gateway", "route_via"}
	matchKeys    = []string{"type", "code", "from", "about"}
	watchKeys    = []string{"host", "receives", "never", "between", "min"}
)

var scenarioNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

func (p *parser) scenario(root *node) {
	o := p.object(root, "", "a mapping with at least name and topology", topKeys...)
	const want = "a scenario name of lowercase letters, digits and '-', at most 64 characters, such as silent-hop"
	n := p.require(o, "name", want)
	p.s.Name = p.str(n, "name", want)
	if !scenarioNameRE.MatchString(p.s.Name) {
		p.fail(n, "name", describe(n), want)
	}
	if n := o.get("seed"); n != nil {
		v, err := strconv.ParseUint(n.text, 0, 64)
		if n.kind != intNode || err != nil || leadingZero(n.text) {
			p.fail(n, "seed", describe(n), "an unsigned integer such as 1")
		}
		p.s.Seed = v
	}
	p.topology(p.require(o, "topology", "a mapping with hosts, routers and links"))
	p.timeline(o)
	p.steps(o)
	p.watches(o)
}

func (p *parser) topology(n *node) {
	o := p.object(n, "topology", "a mapping with hosts, routers and links", topologyKeys...)
	p.hosts = map[string]*HostSpec{}
	p.routers = map[string]*RouterSpec{}
	if n := o.get("hosts"); n != nil {
		if n.kind != mapNode {
			p.fail(n, "topology.hosts", describe(n), "a mapping of host names to hosts, such as {client: {addr: 198.18.0.10/24, gw: 198.18.0.1}}")
		}
		for i, k := range n.keys {
			path := field("topology.hosts", k.text)
			name := p.name(k, path)
			h := p.host(n.vals[i], path)
			h.Pos, h.Name = Pos{k.line, k.col}, name
			p.hosts[name] = h
			p.s.Hosts = append(p.s.Hosts, h)
		}
	}
	rn := o.get("routers")
	if rn == nil || rn.kind == mapNode && len(rn.keys) == 0 {
		at := o.n
		if k := o.keys["routers"]; k != nil {
			at = k
		}
		p.fail(at, "topology.routers", "no routers", "at least one router, such as r1: {ifaces: {eth0: 198.18.0.1/24}}")
	}
	if rn.kind != mapNode {
		p.fail(rn, "topology.routers", describe(rn), "a mapping of router names to routers")
	}
	for i, k := range rn.keys {
		path := field("topology.routers", k.text)
		name := p.name(k, path)
		if _, ok := p.hosts[name]; ok {
			p.fail(k, path, strconv.Quote(name), "a router name no host has (there is a host "+name+")")
		}
		r := p.router(rn.vals[i], path)
		r.Pos, r.Name = Pos{k.line, k.col}, name
		p.routers[name] = r
		p.s.Routers = append(p.s.Routers, r)
	}
	p.uniqueAddrs(n)
	p.links(o)
}

func (p *parser) host(n *node, path string) *HostSpec {
	o := p.object(n, path, "a mapping with addr and optionally gw, iface, routes, accept_redirects", hostKeys...)
	if n.kind == nullNode {
		p.fail(n, field(path, "addr"), "nothing", "an IPv4 address with its prefix length, such as 198.18.0.10/24")
	}
	h := &HostSpec{Iface: DefaultIface}
	h.Addr = p.hostPrefix(p.require(o, "addr", "an IPv4 address with its prefix length, such as 198.18.0.10/24"), o.path1("addr"), "198.18.0.10/24")
	subnet := h.Addr.Masked()
	if n := o.get("gw"); n != nil {
		want := "an IPv4 address in " + subnet.String() + ", such as " + firstHost(subnet).String()
		h.Gateway = p.addr(n, o.path1("gw"), want)
		if !subnet.Contains(h.Gateway) {
			p.fail(n, o.path1("gw"), describe(n), want+" (a gateway must be on the host's subnet)")
		}
		if h.Gateway == h.Addr.Addr() {
			p.fail(n, o.path1("gw"), describe(n), want+" (that is the host's own address)")
		}
	}
	if n := o.get("iface"); n != nil {
		h.Iface = p.iface(n, o.path1("iface"))
		if why, ok := reservedIfaces[h.Iface]; ok {
			p.fail(n, o.path1("iface"), describe(n), "an interface name other than "+h.Iface+", "+why)
		}
	}
	if n := o.get("routes"); n != nil {
		const want = `a route such as "203.0.113.0/24 via 198.18.0.1"`
		for i, rn := range p.list(n, o.path1("routes"), "a list of routes such as [\"203.0.113.0/24 via 198.18.0.1\"]") {
			rpath := index(o.path1("routes"), i)
			s := p.str(rn, rpath, want)
			f := strings.Fields(s)
			if len(f) != 3 || f[1] != "via" {
				p.fail(rn, rpath, describe(rn), want+" (hosts take only PREFIX via ADDR)")
			}
			var r HostRoute
			if f[0] == "default" {
				r.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			} else if pfx, err := netip.ParsePrefix(f[0]); err != nil || !pfx.Addr().Is4() {
				p.fail(rn, rpath, describe(rn), fmt.Sprintf("%s (prefix: got %q, want an IPv4 prefix such as 203.0.113.0/24)", want, f[0]))
			} else if pfx != pfx.Masked() {
				p.fail(rn, rpath, describe(rn), fmt.Sprintf("%s (prefix: got %q, which has host bits set; want %s)", want, f[0], pfx.Masked()))
			} else {
				r.Dst = pfx
			}
			via, err := netip.ParseAddr(f[2])
			if err != nil || !via.Is4() {
				p.fail(rn, rpath, describe(rn), fmt.Sprintf("%s (via: got %q, want an IPv4 address)", want, f[2]))
			}
			if !subnet.Contains(via) || via == h.Addr.Addr() {
				p.fail(rn, rpath, describe(rn), fmt.Sprintf("%s (via: %s is not a neighbour on %s)", want, via, subnet))
			}
			r.Via = via
			if r.Dst.Bits() == 0 && h.Gateway.IsValid() {
				p.fail(rn, rpath, describe(rn), want+" (gw is the default route already)")
			}
			for j, prev := range h.Routes {
				if prev.Dst == r.Dst {
					p.fail(rn, rpath, describe(rn), fmt.Sprintf("%s (routes[%d] is for %s already)", want, j, r.Dst))
				}
			}
			h.Routes = append(h.Routes, r)
		}
	}
	if n := o.get("accept_redirects"); n != nil {
		h.AcceptRedirects = p.boolean(n, o.path1("accept_redirects"))
	}
	return h
}

// firstHost is the first host address of a subnet, for examples.
func firstHost(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if p.Bits() <= 30 {
		a = a.Next()
	}
	return a
}

func (p *parser) router(n *node, path string) *RouterSpec {
	o := p.object(n, path, "a mapping with ifaces and optionally routes, icmp", routerKeys...)
	r := &RouterSpec{}
	const ifacesWant = "a mapping of interface names to addresses, such as {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}"
	in := p.require(o, "ifaces", ifacesWant)
	ipath := o.path1("ifaces")
	if in.kind != mapNode || len(in.keys) == 0 {
		p.fail(in, ipath, describe(in), ifacesWant)
	}
	var ifaces []*routing.Interface
	for i, k := range in.keys {
		kpath := field(ipath, k.text)
		name := p.iface(k, kpath)
		addr := p.hostPrefix(in.vals[i], kpath, "198.18.0.1/24")
		for _, prev := range r.Ifaces {
			if prev.Addr.Overlaps(addr) {
				p.fail(in.vals[i], kpath, describe(in.vals[i]), fmt.Sprintf("a subnet apart from the router's others (%s overlaps %s of %s)", addr.Masked(), prev.Addr.Masked(), prev.Name))
			}
		}
		r.Ifaces = append(r.Ifaces, IfaceSpec{Name: name, Addr: addr})
		ifaces = append(ifaces, &routing.Interface{Name: name, Addr: addr})
	}
	if n := o.get("routes"); n != nil {
		seen := map[netip.Prefix]int{}
		for i, rn := range p.list(n, o.path1("routes"), `a list of routes such as ["default via 198.51.100.2"]`) {
			rpath := index(o.path1("routes"), i)
			s := p.route(rn, rpath, ifaces)
			rt, _ := routing.ParseRoute(s, ifaces)
			if j, ok := seen[rt.Prefix]; ok {
				p.fail(rn, rpath, describe(rn), fmt.Sprintf("a route for another prefix (routes[%d] is for %s already)", j, rt.Prefix))
			}
			seen[rt.Prefix] = i
			r.Routes = append(r.Routes, s)
		}
	}
	if n := o.get("icmp"); n != nil {
		r.ICMP = p.policy(n, o.path1("icmp"))
	}
	return r
}

// route checks a route of a router with ifaces in routing.ParseRoute's
// words and returns it.
func (p *parser) route(n *node, path string, ifaces []*routing.Interface) string {
	const want = `a route such as "203.0.113.0/24 via 198.51.100.2"`
	s := p.str(n, path, want)
	if _, err := routing.ParseRoute(s, ifaces); err != nil {
		msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("route %q: ", s))
		p.fail(n, path, describe(n), want+" ("+msg+")")
	}
	return strings.Join(strings.Fields(s), " ")
}

func (p *parser) policy(n *node, path string) responder.Policy {
	o := p.object(n, path, "a mapping of ICMP settings such as {silent: true}", icmpKeys...)
	var pol responder.Policy
	if n := o.get("silent"); n != nil {
		pol.Silent = p.boolean(n, o.path1("silent"))
	}
	if n := o.get("ratelimit"); n != nil {
		path := o.path1("ratelimit")
		const want = "linux, off, or {burst: 10, interval: 100ms}"
		switch {
		case n.kind == stringNode && n.text == "linux":
		case n.kind == stringNode && n.text == "off":
			pol.NoRateLimit = true
		case n.kind == mapNode:
			ro := p.object(n, path, want, "burst", "interval")
			if b := ro.get("burst"); b != nil {
				pol.RateBurst = int(p.integer(b, ro.path1("burst"), "a burst of 1 to 1000000 errors", 1, 1_000_000))
			}
			if iv := ro.get("interval"); iv != nil {
				pol.RateInterval = p.duration(iv, ro.path1("interval"))
				if pol.RateInterval == 0 {
					p.fail(iv, ro.path1("interval"), describe(iv), "a duration above 0 such as 100ms (write ratelimit: off for no limit)")
				}
			}
		default:
			p.fail(n, path, describe(n), want)
		}
	}
	if n := o.get("quote"); n != nil {
		const want = "576 (the default: fill a 576-byte error), rfc792 or 8 (the header and 8 bytes), a byte count from 28 to 65535, or all"
		switch {
		case n.kind == stringNode && n.text == "rfc792":
			pol.Quote = 28
		case n.kind == stringNode && n.text == "all":
			pol.QuoteAll = true
		default:
			q := p.integer(n, o.path1("quote"), want, 8, 65535)
			switch {
			case q == 576:
			case q == 8:
				pol.Quote = 28
			case q >= 28:
				pol.Quote = int(q)
			default:
				p.fail(n, o.path1("quote"), describe(n), want)
			}
		}
	}
	if n := o.get("source"); n != nil {
		const want = "outgoing, incoming, or an IPv4 address such as 198.51.100.1"
		switch s := p.str(n, o.path1("source"), want); s {
		case "outgoing":
		case "incoming":
			pol.Source = responder.SourceIncoming
		default:
			pol.Source, pol.SourceAddr = responder.SourceFixed, p.addr(n, o.path1("source"), want)
		}
	}
	if n := o.get("ttl"); n != nil {
		pol.TTL = uint8(p.integer(n, o.path1("ttl"), "a TTL from 1 to 255", 1, 255))
	}
	if n := o.get("redirects"); n != nil {
		pol.NoRedirects = !p.boolean(n, o.path1("redirects"))
	}
	if n := o.get("echo"); n != nil {
		pol.NoEcho = !p.boolean(n, o.path1("echo"))
	}
	if n := o.get("delay"); n != nil {
		pol.Delay = p.delay(n, o.path1("delay"), "a delay", "50ms")
	}
	return pol
}

// uniqueAddrs fails on an address used twice among hosts and router
// interfaces.
func (p *parser) uniqueAddrs(topo *node) {
	seen := map[netip.Addr]string{}
	add := func(a netip.Addr, what string, n *node, path string) {
		if prev, ok := seen[a]; ok {
			p.fail(n, path, describe(n), fmt.Sprintf("an address no other host or interface has (%s has %s)", prev, a))
		}
		seen[a] = what
	}
	for _, r := range p.s.Routers {
		for _, ifc := range r.Ifaces {
			path := "topology.routers." + r.Name + ".ifaces." + ifc.Name
			add(ifc.Addr.Addr(), r.Name+":"+ifc.Name, p.lookup(topo, "routers", r.Name, "ifaces", ifc.Name), path)
		}
	}
	for _, h := range p.s.Hosts {
		path := "topology.hosts." + h.Name + ".addr"
		add(h.Addr.Addr(), h.Name, p.lookup(topo, "hosts", h.Name, "addr"), path)
	}
}

// lookup finds the value at keys under n, for positions in late checks.
func (p *parser) lookup(n *node, keys ...string) *node {
	for _, k := range keys {
		i := slices.IndexFunc(n.keys, func(kn *node) bool { return kn.text == k })
		if i < 0 {
			return n
		}
		n = n.vals[i]
	}
	return n
}

const endWant = "a host name or ROUTER:IFACE such as r1:eth0"

// endpoint parses one end of a link and checks that it exists.
func (p *parser) endpoint(n *node, path string) Endpoint {
	s := p.str(n, path, endWant)
	node, iface, hasIface := strings.Cut(s, ":")
	if h, ok := p.hosts[node]; ok {
		if hasIface {
			p.fail(n, path, describe(n), fmt.Sprintf("%s (a host end is just its name: %s)", endWant, h.Name))
		}
		return Endpoint{Node: node}
	}
	r, ok := p.routers[node]
	if !ok {
		if hasIface {
			p.fail(n, path, describe(n), fmt.Sprintf("%s (no router %s)", endWant, plain(node)))
		}
		p.fail(n, path, describe(n), fmt.Sprintf("%s (no host or router %s)", endWant, plain(node)))
	}
	var names []string
	for _, ifc := range r.Ifaces {
		names = append(names, ifc.Name)
	}
	if !hasIface {
		p.fail(n, path, describe(n), fmt.Sprintf("%s (a router end names an interface: %s:%s)", endWant, node, r.Ifaces[0].Name))
	}
	if !slices.Contains(names, iface) {
		p.fail(n, path, describe(n), fmt.Sprintf("an interface of %s (router %s has no interface %s; it has %s)", node, node, plain(iface), strings.Join(names, ", ")))
	}
	return Endpoint{Node: node, Iface: iface}
}

func (p *parser) ifaceOf(e Endpoint) IfaceSpec {
	for _, ifc := range p.routers[e.Node].Ifaces {
		if ifc.Name == e.Iface {
			return ifc
		}
	}
	panic("scenarios: ifaceOf(" + e.String() + ") on an unchecked endpoint")
}

func (p *parser) links(o *object) {
	p.ends = map[Endpoint]*LinkSpec{}
	const want = "a link such as [client, r1:eth0] or {ends: [r1:eth1, r2:eth0], mtu: 1400}"
	for i, n := range p.list(o.get("links"), "topology.links", "a list of links such as [[client, r1:eth0]]") {
		path := index("topology.links", i)
		l := &LinkSpec{Pos: Pos{n.line, n.col}, MTU: DefaultMTU}
		var ends *node
		epath := path
		switch n.kind {
		case listNode:
			ends = n
		case mapNode:
			lo := p.object(n, path, want, linkKeys...)
			ends = p.require(lo, "ends", "the two ends of the link, such as [r1:eth1, r2:eth0]")
			epath = lo.path1("ends")
			if v := lo.get("mtu"); v != nil {
				l.MTU = int(p.integer(v, lo.path1("mtu"), "an MTU from 68 to 65535", 68, 65535))
			}
			if v := lo.get("down"); v != nil {
				l.Down = p.boolean(v, lo.path1("down"))
			}
			l.Impairment = p.impairment(lo)
		default:
			p.fail(n, path, describe(n), want)
		}
		if ends.kind != listNode || len(ends.items) != 2 {
			p.fail(ends, epath, describe(ends), "two ends, such as [client, r1:eth0]")
		}
		l.A = p.endpoint(ends.items[0], index(epath, 0))
		l.B = p.endpoint(ends.items[1], index(epath, 1))
		for j, e := range []Endpoint{l.A, l.B} {
			if prev, ok := p.ends[e]; ok {
				where := "this link"
				if prev != l {
					where = fmt.Sprintf("the link at line %d", prev.Line)
				}
				p.fail(ends.items[j], index(epath, j), describe(ends.items[j]), fmt.Sprintf("an end not on another link (%s is on %s)", e, where))
			}
			p.ends[e] = l
		}
		switch {
		case l.A.Iface == "" && l.B.Iface == "":
			p.fail(ends, epath, fmt.Sprintf("two hosts (%s, %s)", l.A, l.B), "a link with at least one router end, such as [client, r1:eth0]")
		case l.A.Iface == "" || l.B.Iface == "":
			host, rend := l.A, l.B
			if host.Iface != "" {
				host, rend = l.B, l.A
			}
			h, ifc := p.hosts[host.Node], p.ifaceOf(rend)
			hpath := "topology.hosts." + h.Name
			if h.Addr.Masked() != ifc.Addr.Masked() {
				an := p.lookup(p.lookup(o.n, "hosts"), h.Name, "addr")
				p.fail(an, hpath+".addr", describe(an), fmt.Sprintf("an address in %s, the subnet of %s it links to", ifc.Addr.Masked(), rend))
			}
		default:
			a, b := p.ifaceOf(l.A), p.ifaceOf(l.B)
			if a.Addr.Masked() != b.Addr.Masked() {
				p.fail(ends.items[1], index(epath, 1), describe(ends.items[1]), fmt.Sprintf("an interface on %s's subnet %s (%s is on %s)", l.A, a.Addr.Masked(), l.B, b.Addr.Masked()))
			}
		}
		p.s.Links = append(p.s.Links, l)
	}
	for _, h := range p.s.Hosts {
		if _, ok := p.ends[Endpoint{Node: h.Name}]; !ok {
			k := o.n
			if hosts := p.lookup(o.n, "hosts"); hosts.kind == mapNode {
				if i := slices.IndexFunc(hosts.keys, func(k *node) bool { return k.text == h.Name }); i >= 0 {
					k = hosts.keys[i]
				}
			}
			p.fail(k, "topology.hosts."+h.Name, strconv.Quote(h.Name)+" in no link", fmt.Sprintf("every host on one link, such as [%s, %s:%s] in topology.links", h.Name, p.s.Routers[0].Name, p.s.Routers[0].Ifaces[0].Name))
		}
	}
}

// maxLinkDelay bounds a link's delay and jitter and an ICMP delay:
// netem-like lab delays are milliseconds to seconds, and a mistyped
// 100000h would hold a link's traffic for the rest of a run.
const maxLinkDelay = 60 * time.Second

// delay is a duration from 0 to maxLinkDelay; what and example are for
// the message.
func (p *parser) delay(n *node, path, what, example string) time.Duration {
	d := p.duration(n, path)
	if d > maxLinkDelay {
		p.fail(n, path, describe(n), fmt.Sprintf("%s from 0 to %ds, such as %s", what, maxLinkDelay/time.Second, example))
	}
	return d
}

// impairment reads delay, jitter and loss from o.
func (p *parser) impairment(o *object) Impairment {
	var im Impairment
	if v := o.get("delay"); v != nil {
		im.Delay = p.delay(v, o.path1("delay"), "a delay", "20ms")
	}
	if v := o.get("jitter"); v != nil {
		im.Jitter = p.delay(v, o.path1("jitter"), "a jitter", "2ms")
	}
	if v := o.get("loss"); v != nil {
		const want = "a loss in percent from 0 to 100, such as 1.5"
		if v.kind != intNode && v.kind != floatNode {
			p.fail(v, o.path1("loss"), describe(v), want)
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(v.text, "_", ""), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			p.fail(v, o.path1("loss"), describe(v), want)
		}
		im.Loss = f
	}
	return im
}

// linkEnd parses a reference to an existing link by either end.
func (p *parser) linkEnd(n *node, path string) Endpoint {
	var ends []string
	for _, l := range p.s.Links {
		ends = append(ends, l.A.String(), l.B.String())
	}
	want := "an end of a link in topology.links"
	if len(ends) > 0 {
		want += ", such as " + ends[0]
	}
	s := p.str(n, path, want)
	node, iface, _ := strings.Cut(s, ":")
	e := Endpoint{Node: node, Iface: iface}
	if _, ok := p.ends[e]; !ok {
		if len(ends) == 0 {
			p.fail(n, path, describe(n), want+" (there are no links)")
		}
		p.fail(n, path, describe(n), fmt.Sprintf("%s (no link has the end %s; the ends are %s)", want, plain(s), strings.Join(ends, ", ")))
	}
	return e
}

func (p *parser) routerRef(n *node, path string) *RouterSpec {
	want := "a router of topology.routers, such as " + p.s.Routers[0].Name
	s := p.str(n, path, want)
	r, ok := p.routers[s]
	if !ok {
		p.fail(n, path, describe(n), want+" (no router "+plain(s)+")")
	}
	return r
}

func routerIfaces(r *RouterSpec) []*routing.Interface {
	var ifaces []*routing.Interface
	for _, ifc := range r.Ifaces {
		ifaces = append(ifaces, &routing.Interface{Name: ifc.Name, Addr: ifc.Addr})
	}
	return ifaces
}

func (p *parser) timeline(top *object) {
	for i, n := range p.list(top.get("timeline"), "timeline", "a list of events such as [{at: 5s, link: r1:eth1, state: down}]") {
		path := index("timeline", i)
		e, at := p.event(n, path, true)
		if i > 0 {
			if prev := p.s.Timeline[i-1].At; e.At < prev {
				p.fail(at, field(path, "at"), describe(at), fmt.Sprintf("%s or later (%s is at %s: time cannot go backwards)", prev, index("timeline", i-1), prev))
			}
		}
		p.s.Timeline = append(p.s.Timeline, e)
	}
}

// event reads one timeline event at n; with timed, "at" is required (and
// returned), without it (a change made through the control API) it is
// not allowed.
func (p *parser) event(n *node, path string, timed bool) (Event, *node) {
	want := "an event such as {at: 5s, link: r1:eth1, state: down}"
	if !timed {
		want = "a change such as {link: r1:eth1, state: down}"
	}
	keys := eventKeys
	if !timed {
		keys = slices.DeleteFunc(slices.Clone(eventKeys), func(k string) bool { return k == "at" })
	}
	o := p.object(n, path, want, keys...)
	if n.kind != mapNode {
		p.fail(n, path, describe(n), want)
	}
	e := Event{Pos: Pos{n.line, n.col}}
	var at *node
	if timed {
		at = p.require(o, "at", "the time of the event, such as 5s")
		e.At = p.duration(at, o.path1("at"))
	}
	switch p.only(o, "link", "router", "flap") {
	case "link":
		p.allow(o, "in a link event", "at", "link", "state", "delay", "jitter", "loss")
		if o.get("state") != nil {
			for _, k := range o.n.keys {
				if (k.text == "delay" || k.text == "jitter" || k.text == "loss") && o.get(k.text) != nil {
					p.fail(k, o.path1(k.text), k.text+" together with state", "state, or any of delay, jitter, loss: one change per event")
				}
			}
		}
		e.Link = p.linkEnd(o.get("link"), o.path1("link"))
		if s := o.get("state"); s != nil {
			e.Kind = LinkState
			switch p.str(s, o.path1("state"), "up or down") {
			case "up":
				e.Up = true
			case "down":
			default:
				p.fail(s, o.path1("state"), describe(s), "up or down")
			}
		} else if o.get("delay") != nil || o.get("jitter") != nil || o.get("loss") != nil {
			e.Kind = LinkImpair
			e.Impair = p.impairment(o)
		} else {
			p.fail(o.get("link"), path, "a link and no change", "state: up|down, or any of delay, jitter, loss")
		}
	case "router":
		p.allow(o, "in a router event", "at", "router", "route", "icmp")
		r := p.routerRef(o.get("router"), o.path1("router"))
		e.Router = r.Name
		switch p.only(o, "route", "icmp") {
		case "route":
			p.routeEvent(&e, o.get("route"), o.path1("route"), r)
		case "icmp":
			e.Kind, e.Policy = PolicySet, p.policy(o.get("icmp"), o.path1("icmp"))
		default:
			p.fail(o.get("router"), path, "a router and no change", "route: {add|delete|replace: ...} or icmp: {...}")
		}
	case "flap":
		p.allow(o, "in a flap event", "at", "flap")
		p.flap(&e, o.get("flap"), o.path1("flap"))
	default:
		p.fail(n, path, "an event with no link, router or flap", want)
	}
	return e, at
}

// ParseEvent reads one change to a running scenario sc, written as a
// timeline event without "at" — {link: r1:eth1, state: down},
// {router: r1, route: {add: ...}}, {router: r2, icmp: {silent: true}},
// {flap: {...}} — and checks it against sc's topology. JSON is YAML, so
// a JSON object works too. source names data in messages.
func ParseEvent(sc *Scenario, source string, data []byte) (e Event, err error) {
	p := &parser{file: source, s: sc, hosts: map[string]*HostSpec{}, routers: map[string]*RouterSpec{}, ends: map[Endpoint]*LinkSpec{}}
	for _, h := range sc.Hosts {
		p.hosts[h.Name] = h
	}
	for _, r := range sc.Routers {
		p.routers[r.Name] = r
	}
	for _, l := range sc.Links {
		p.ends[l.A], p.ends[l.B] = l, l
	}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			e, err = Event{}, b.err
		}
	}()
	e, _ = p.event(p.load(data, changeDoc), "change", false)
	return e, nil
}

// allow fails if o has a key, with a value, that is not one of keys.
func (p *parser) allow(o *object, where string, keys ...string) {
	for _, k := range o.n.keys {
		if !slices.Contains(keys, k.text) && o.get(k.text) != nil {
			p.fail(k, o.path1(k.text), "the key "+strconv.Quote(k.text)+" "+where, "one of "+strings.Join(keys, ", "))
		}
	}
}

func (p *parser) routeEvent(e *Event, n *node, path string, r *RouterSpec) {
	const want = `one of {add: ROUTE}, {delete: PREFIX}, {replace: ROUTE}`
	o := p.object(n, path, want, "add", "delete", "replace")
	switch p.only(o, "add", "delete", "replace") {
	case "add":
		e.Kind, e.Route = RouteAdd, p.route(o.get("add"), o.path1("add"), routerIfaces(r))
	case "replace":
		e.Kind, e.Route = RouteReplace, p.route(o.get("replace"), o.path1("replace"), routerIfaces(r))
	case "delete":
		v := o.get("delete")
		p.prefix(v, o.path1("delete"), "a prefix such as 198.18.9.0/24 or default")
		e.Kind, e.Route = RouteDelete, strings.TrimSpace(v.text)
	default:
		p.fail(n, path, describe(n), want)
	}
}

// A flap's bounds: a link toggled faster than every 10 ms is noise, not a
// failure scenario; the rest keeps a mistyped flap from running for years.
const (
	minFlapPeriod = 10 * time.Millisecond
	maxFlapPeriod = time.Hour
	maxFlapCount  = 10_000
)

func (p *parser) flap(e *Event, n *node, path string) {
	const want = "a mapping such as {link: r1:eth1, period: 2s, count: 3}"
	o := p.object(n, path, want, "link", "period", "count")
	if n.kind != mapNode {
		p.fail(n, path, describe(n), want)
	}
	e.Kind = Flap
	e.Link = p.linkEnd(p.require(o, "link", "an end of a link in topology.links"), o.path1("link"))
	period := p.require(o, "period", "how long the link stays down, then up, such as 2s")
	e.Period = p.duration(period, o.path1("period"))
	if e.Period < minFlapPeriod || e.Period > maxFlapPeriod {
		p.fail(period, o.path1("period"), describe(period), "a time from 10ms to 1h, such as 2s")
	}
	e.Count = int(p.integer(p.require(o, "count", "how many times the link goes down, 1 to 10000"), o.path1("count"), "how many times the link goes down, 1 to 10000", 1, maxFlapCount))
}

func (p *parser) steps(top *object) {
	const want = "a step such as {on: client, run: traceroute -n 203.0.113.10}"
	var lastAt *Step
	var lastAtPath string
	for i, n := range p.list(top.get("steps"), "steps", "a list of steps such as [{on: client, run: ping -c1 203.0.113.10}]") {
		path := index("steps", i)
		o := p.object(n, path, want, stepKeys...)
		if n.kind != mapNode {
			p.fail(n, path, describe(n), want)
		}
		s := Step{Pos: Pos{n.line, n.col}, After: true}
		switch p.only(o, "at", "after") {
		case "at":
			at := o.get("at")
			s.At, s.After = p.duration(at, o.path1("at")), false
			if lastAt != nil && s.At < lastAt.At {
				p.fail(at, o.path1("at"), describe(at), fmt.Sprintf("%s or later (%s starts at %s: time cannot go backwards)", lastAt.At, lastAtPath, lastAt.At))
			}
		case "after":
			s.At = p.duration(o.get("after"), o.path1("after"))
		}
		on := p.require(o, "on", "the host the step runs on")
		hostWant := "a host of topology.hosts"
		if len(p.s.Hosts) > 0 {
			hostWant += ", such as " + p.s.Hosts[0].Name
		}
		s.On = p.str(on, o.path1("on"), hostWant)
		if _, ok := p.hosts[s.On]; !ok {
			why := "no host " + plain(s.On)
			if _, ok := p.routers[s.On]; ok {
				why = s.On + " is a router; steps run on hosts"
			}
			p.fail(on, o.path1("on"), describe(on), hostWant+" ("+why+")")
		}
		switch p.only(o, "run", "probe") {
		case "run":
			s.Run = p.str(o.get("run"), o.path1("run"), "a shell command")
			if strings.TrimSpace(s.Run) == "" {
				p.fail(o.get("run"), o.path1("run"), describe(o.get("run")), "a shell command")
			}
			s.Timeout = DefaultRunTimeout
		case "probe":
			s.Probe = p.probe(o.get("probe"), o.path1("probe"))
			s.Timeout = DefaultProbeTimeout
		default:
			p.fail(n, path, "a step with neither run nor probe", "run: COMMAND or probe: {udp|tcp|echo: ...}")
		}
		if t := o.get("timeout"); t != nil {
			if d := p.duration(t, o.path1("timeout")); d > 0 {
				s.Timeout = d
			}
		}
		if e := o.get("expect"); e != nil {
			s.Expect = p.stepExpect(e, o.path1("expect"), &s)
		}
		p.s.Steps = append(p.s.Steps, s)
		if !s.After {
			lastAt, lastAtPath = &p.s.Steps[len(p.s.Steps)-1], path
		}
	}
}

func (p *parser) probe(n *node, path string) *ProbeSpec {
	const want = "a probe such as {udp: 203.0.113.10:33434, ttl: 1}, {tcp: 203.0.113.10:80}, {echo: 203.0.113.10}, {redirect: 198.18.1.1} or {proto: 253, to: 203.0.113.10}"
	o := p.object(n, path, want, probeKeys...)
	if n.kind != mapNode {
		p.fail(n, path, describe(n), want)
	}
	ps := &ProbeSpec{Count: 1}
	switch k := p.only(o, "udp", "tcp", "echo", "redirect", "proto"); k {
	case "udp", "tcp":
		ps.Kind = ProbeUDP
		if k == "tcp" {
			ps.Kind = ProbeTCP
		}
		v := o.get(k)
		want := "an IPv4 address and port such as 203.0.113.10:33434"
		ap, err := netip.ParseAddrPort(p.str(v, o.path1(k), want))
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			p.fail(v, o.path1(k), describe(v), want)
		}
		ps.Dst = ap
	case "echo", "redirect":
		ps.Kind = ProbeEcho
		if k == "redirect" {
			ps.Kind = ProbeRedirect
		}
		ps.Dst = netip.AddrPortFrom(p.addr(o.get(k), o.path1(k), "an IPv4 address such as 203.0.113.10"), 0)
	case "proto":
		ps.Kind = ProbeProto
		ps.Protocol = int(p.integer(o.get("proto"), o.path1("proto"), "an IP protocol number from 1 to 254, such as 253", 1, 254))
		to := p.require(o, "to", "the destination, an IPv4 address such as 203.0.113.10")
		if to != nil {
			ps.Dst = netip.AddrPortFrom(p.addr(to, o.path1("to"), "an IPv4 address such as 203.0.113.10"), 0)
		}
	default:
		p.fail(n, path, "a probe with no udp, tcp, echo, redirect or proto", want)
	}
	// The kernel probes take these options: TCP none, Echo only a TTL, and
	// only a proto probe has a "to".
	switch ps.Kind {
	case ProbeTCP:
		p.allow(o, "in a tcp probe", "tcp", "count")
	case ProbeEcho:
		p.allow(o, "in an echo probe", "echo", "ttl", "count")
	case ProbeRedirect:
		p.allow(o, "in a redirect probe", "redirect", "count")
	case ProbeProto:
		p.allow(o, "in a proto probe", "proto", "to", "count")
	}
	if v := o.get("ttl"); v != nil {
		ps.TTL = int(p.integer(v, o.path1("ttl"), "a TTL from 1 to 255", 1, 255))
	}
	if v := o.get("size"); v != nil {
		ps.Size = int(p.integer(v, o.path1("size"), "a payload size from 0 to 65507 bytes", 0, 65507))
	}
	if v := o.get("df"); v != nil {
		ps.DF = p.boolean(v, o.path1("df"))
	}
	if v := o.get("count"); v != nil {
		ps.Count = int(p.integer(v, o.path1("count"), "a count from 1 to 100000", 1, 100_000))
	}
	return ps
}

func (p *parser) stepExpect(n *node, path string, s *Step) StepExpect {
	o := p.object(n, path, "a mapping such as {exit: 0, output: [\"^ 1 \"]}", expectKeys...)
	var e StepExpect
	for _, k := range n.keys {
		if o.get(k.text) == nil {
			continue
		}
		runOnly := k.text == "exit" || k.text == "output" || k.text == "no_output"
		if s.Probe == nil && !runOnly {
			p.fail(k, o.path1(k.text), "the key "+strconv.Quote(k.text)+" in a run step", "one of exit, output, no_output ("+k.text+" is for probes)")
		}
		if s.Probe != nil && runOnly {
			p.fail(k, o.path1(k.text), "the key "+strconv.Quote(k.text)+" in a probe step", "one of errno, icmp, answered, reply, no_answer, gateway, route_via ("+k.text+" is for run steps)")
		}
	}
	if v := o.get("exit"); v != nil {
		x := int(p.integer(v, o.path1("exit"), "an exit status from 0 to 255", 0, 255))
		e.Exit = &x
	}
	e.Output = p.regexps(o, "output")
	e.NoOutput = p.regexps(o, "no_output")
	if v := o.get("errno"); v != nil {
		const want = "a Linux errno name such as ENETUNREACH, EHOSTUNREACH, ECONNREFUSED or EMSGSIZE, or none"
		e.Errno = p.str(v, o.path1("errno"), want)
		if e.Errno != "none" && !errnoNames()[e.Errno] {
			w := want
			if canon, ok := errnoAliases[e.Errno]; ok {
				w += " (Linux calls " + e.Errno + " " + canon + ")"
			}
			p.fail(v, o.path1("errno"), describe(v), w)
		}
	}
	if v := o.get("icmp"); v != nil {
		m := p.match(v, o.path1("icmp"))
		e.ICMP = &m
	}
	if v := o.get("answered"); v != nil {
		a := int(p.integer(v, o.path1("answered"), fmt.Sprintf("a count from 0 to the probe's count, %d", s.Probe.Count), 0, int64(s.Probe.Count)))
		e.Answered = &a
	}
	if v := o.get("reply"); v != nil {
		e.Reply = p.boolean(v, o.path1("reply"))
	}
	if v := o.get("no_answer"); v != nil {
		e.NoAnswer = p.boolean(v, o.path1("no_answer"))
		if e.NoAnswer && e.Reply {
			p.fail(v, o.path1("no_answer"), "no_answer: true with reply: true", "one of them")
		}
	}
	if v := o.get("gateway"); v != nil {
		if s.Probe != nil && s.Probe.Kind != ProbeRedirect {
			p.fail(v, o.path1("gateway"), "gateway in a probe that is not a redirect probe", "gateway only with probe: {redirect: ADDR}")
		}
		e.Gateway = p.addr(v, o.path1("gateway"), "the new next hop, an IPv4 address such as 198.51.100.254")
	}
	if v := o.get("route_via"); v != nil {
		e.RouteVia = p.addr(v, o.path1("route_via"), "the gateway of the host's route to the probe's destination, such as 198.51.100.254")
	}
	return e
}

// regexps compiles the list of regular expressions at key.
func (p *parser) regexps(o *object, key string) []string {
	n := o.get(key)
	if n == nil {
		return nil
	}
	const want = "a regular expression (Go syntax) such as \"^ 1  198.18.0.1 \""
	items := []*node{n}
	if n.kind == listNode {
		items = n.items
	} else if n.kind != stringNode {
		p.fail(n, o.path1(key), describe(n), "a list of regular expressions such as [\"^ 1  198.18.0.1 \"]")
	}
	var res []string
	for i, it := range items {
		path := index(o.path1(key), i)
		if n.kind != listNode {
			path = o.path1(key)
		}
		s := p.str(it, path, want)
		if _, err := regexp.Compile(s); err != nil {
			p.fail(it, path, describe(it), want+" ("+err.Error()+")")
		}
		res = append(res, s)
	}
	return res
}

// errnoNames are the names unix.ErrnoName gives, the ones a runner
// compares with.
var errnoNames = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for e := syscall.Errno(1); e < 4096; e++ {
		if s := unix.ErrnoName(e); s != "" {
			m[s] = true
		}
	}
	return m
})

// errnoAliases are second names of errno values.
var errnoAliases = map[string]string{
	"EWOULDBLOCK": "EAGAIN",
	"EDEADLOCK":   "EDEADLK",
	"ENOTSUP":     "EOPNOTSUPP",
}

// icmpTypes are the ICMP type names a scenario uses, with the code names
// of each.
var icmpTypes = []icmpType{
	{"echo-reply", ipv4.ICMPTypeEchoReply, nil},
	{"destination-unreachable", ipv4.ICMPTypeDestinationUnreachable, []icmpCode{
		{"net", packet.CodeNetUnreachable},
		{"host", packet.CodeHostUnreachable},
		{"protocol", packet.CodeProtocolUnreachable},
		{"port", packet.CodePortUnreachable},
		{"fragmentation-needed", packet.CodeFragNeeded},
		{"prohibited", packet.CodeAdminProhibited},
	}},
	{"redirect", ipv4.ICMPTypeRedirect, []icmpCode{
		{"net", 0}, // RFC 792; routers must not send it (RFC 1812 §5.2.7.2)
		{"host", packet.CodeRedirectHost},
	}},
	{"echo-request", ipv4.ICMPTypeEcho, nil},
	{"time-exceeded", ipv4.ICMPTypeTimeExceeded, []icmpCode{
		{"ttl", packet.CodeTTLExceeded},
		{"reassembly", packet.CodeReassemblyExceeded},
	}},
	{"parameter-problem", ipv4.ICMPTypeParameterProblem, nil},
}

type icmpType struct {
	name  string
	typ   ipv4.ICMPType
	codes []icmpCode
}

type icmpCode struct {
	name string
	code packet.Code
}

func (p *parser) match(n *node, path string) ICMPMatch {
	o := p.object(n, path, "a mapping such as {type: time-exceeded, from: 198.51.100.1}", matchKeys...)
	m := ICMPMatch{AnyType: true}
	var codes []icmpCode
	typeName := ""
	if v := o.get("type"); v != nil {
		var names []string
		for _, t := range icmpTypes {
			names = append(names, t.name)
		}
		want := "an ICMP type: " + strings.Join(names, ", ")
		s := p.str(v, o.path1("type"), want)
		i := slices.IndexFunc(icmpTypes, func(t icmpType) bool { return t.name == s })
		if i < 0 {
			p.fail(v, o.path1("type"), describe(v), want)
		}
		m.Type, m.AnyType, codes, typeName = icmpTypes[i].typ, false, icmpTypes[i].codes, s
	}
	if v := o.get("code"); v != nil {
		var names []string
		for _, c := range codes {
			names = append(names, fmt.Sprintf("%s (%d)", c.name, c.code))
		}
		want := "a code from 0 to 255"
		switch {
		case len(names) > 0:
			want = "a code of " + typeName + ": " + strings.Join(names, ", ") + ", or a number from 0 to 255"
		case typeName == "":
			want = "a code from 0 to 255 (a code by name needs a type)"
		case v.kind != intNode:
			want = "a code from 0 to 255 (" + typeName + " has no named codes)"
		}
		var c packet.Code
		if v.kind == intNode {
			c = packet.Code(p.integer(v, o.path1("code"), want, 0, 255))
		} else {
			s := p.str(v, o.path1("code"), want)
			i := slices.IndexFunc(codes, func(c icmpCode) bool { return c.name == s })
			if i < 0 {
				p.fail(v, o.path1("code"), describe(v), want)
			}
			c = codes[i].code
		}
		m.Code = &c
	}
	if v := o.get("from"); v != nil {
		m.From = p.addr(v, o.path1("from"), "an IPv4 address such as 198.51.100.1")
	}
	if v := o.get("about"); v != nil {
		m.About = p.addr(v, o.path1("about"), "an IPv4 address such as 203.0.113.10")
	}
	return m
}

func (p *parser) watches(top *object) {
	const want = "an expectation such as {host: client, receives: {type: time-exceeded}} or {host: client, never: {type: redirect}}"
	for i, n := range p.list(top.get("expect"), "expect", "a list of expectations such as [{host: client, never: {type: redirect}}]") {
		path := index("expect", i)
		o := p.object(n, path, want, watchKeys...)
		if n.kind != mapNode {
			p.fail(n, path, describe(n), want)
		}
		w := Watch{Pos: Pos{n.line, n.col}}
		hn := p.require(o, "host", "the host that receives the messages")
		w.Host = p.str(hn, o.path1("host"), "a host of topology.hosts")
		if _, ok := p.hosts[w.Host]; !ok {
			p.fail(hn, o.path1("host"), describe(hn), "a host of topology.hosts (no host "+plain(w.Host)+")")
		}
		switch p.only(o, "receives", "never") {
		case "receives":
			w.Match, w.Min = p.match(o.get("receives"), o.path1("receives")), 1
			if v := o.get("min"); v != nil {
				w.Min = int(p.integer(v, o.path1("min"), "a count of 1 or more", 1, math.MaxInt32))
			}
		case "never":
			w.Match, w.Never = p.match(o.get("never"), o.path1("never")), true
			if k := o.keys["min"]; k != nil {
				p.fail(k, o.path1("min"), "min with never", "min only with receives")
			}
		default:
			p.fail(n, path, "an expectation with neither receives nor never", want)
		}
		if v := o.get("between"); v != nil {
			const want = "a time window such as [0s, 10s]"
			if v.kind != listNode || len(v.items) != 2 {
				p.fail(v, o.path1("between"), describe(v), want)
			}
			w.From = p.duration(v.items[0], index(o.path1("between"), 0))
			w.Until = p.duration(v.items[1], index(o.path1("between"), 1))
			if w.Until <= w.From {
				p.fail(v.items[1], index(o.path1("between"), 1), describe(v.items[1]), fmt.Sprintf("a time after %s", w.From))
			}
		}
		p.s.Watches = append(p.s.Watches, w)
	}
}
