package routing

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gaissmai/bart"
)

// Table is a longest-prefix-match routing table (the FIB). Lookups read an
// immutable snapshot through an atomic pointer and take no lock, so the
// packet path never waits for a change; changes are serialized by a mutex
// and build the next snapshot copy-on-write (bart's ...Persist methods), so
// no packet ever sees a half-applied change. The zero Table is empty and
// ready to use.
type Table struct {
	mu  sync.Mutex                         // serializes writers
	cur atomic.Pointer[bart.Table[*Route]] // pointers: a lookup copies 8 bytes, not a Route
}

// Lookup returns the most specific route to dst. It is safe for
// concurrent use and does not allocate.
func (t *Table) Lookup(dst netip.Addr) (Route, bool) {
	tbl := t.cur.Load()
	if tbl == nil {
		return Route{}, false
	}
	r, ok := tbl.Lookup(dst.Unmap())
	if !ok {
		return Route{}, false
	}
	return *r, true
}

// Add inserts r, replacing any route for the same prefix.
func (t *Table) Add(r Route) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cur.Store(t.load().InsertPersist(r.Prefix.Masked(), &r))
}

// Delete removes the route for exactly prefix p and reports whether there
// was one.
func (t *Table) Delete(p netip.Prefix) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	tbl := t.load()
	if _, ok := tbl.Get(p.Masked()); !ok {
		return false
	}
	t.cur.Store(tbl.DeletePersist(p.Masked()))
	return true
}

// Replace swaps in a table holding exactly routes, in one step.
func (t *Table) Replace(routes []Route) {
	next := new(bart.Table[*Route])
	for _, r := range routes {
		next.Insert(r.Prefix.Masked(), &r)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cur.Store(next)
}

// Routes returns every route, sorted by prefix.
func (t *Table) Routes() []Route {
	var rs []Route
	for _, r := range t.load().AllSorted() {
		rs = append(rs, *r)
	}
	return rs
}

func (t *Table) load() *bart.Table[*Route] {
	if tbl := t.cur.Load(); tbl != nil {
		return tbl
	}
	return new(bart.Table[*Route])
}
