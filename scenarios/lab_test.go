package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/icmpgw/icmpgw/tun"
)

// needRoot skips a test that needs root, or fails it in CI, where nothing
// may skip.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this integration test needs root, and CI=true forbids skipping")
	}
	t.Skip("needs root")
}

// TestDemo runs `icmpgw demo` in-process on its own namespaces: every
// probe must draw its reaction, and Close must leave no namespace behind.
func TestDemo(t *testing.T) {
	needRoot(t)
	prefix := fmt.Sprintf("icmpgw-td%d-", os.Getpid())
	lab := Default()
	t.Cleanup(func() { Down(lab, prefix) })
	run, err := Up(lab, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ok := RunDemo(&out, Namespace(prefix, "client"), DemoProbes(), run.Router, lab.Policy)
	t.Log("\n" + out.String())
	if !ok {
		t.Error("some probes did not draw their reaction")
	}
	if got := strings.Count(out.String(), " ok"); got != len(DemoProbes()) {
		t.Errorf("%d probes ok, want %d", got, len(DemoProbes()))
	}
	s := run.Router.Stats()
	if s.Sent[5] != 1 || s.Sent[11] != 1+6 || s.Unreachable[4] != 1 {
		t.Errorf("sent %d redirects, %d time exceeded, %d frag needed; want 1, 1+6 (the burst row), 1", s.Sent[5], s.Sent[11], s.Unreachable[4])
	}
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	for _, h := range lab.Hosts {
		if ok, _ := tun.NamespaceExists(Namespace(prefix, h.Name)); ok {
			t.Errorf("namespace %s left behind", Namespace(prefix, h.Name))
		}
	}
}

// TestUpRefusesExistingNamespace checks that Up never takes over a
// namespace it did not create, and leaves it alone.
func TestUpRefusesExistingNamespace(t *testing.T) {
	needRoot(t)
	prefix := fmt.Sprintf("icmpgw-tx%d-", os.Getpid())
	taken := Namespace(prefix, "server")
	if err := tun.CreateNamespace(taken); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.DeleteNamespace(taken) })
	_, err := Up(Default(), prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), taken) {
		t.Fatalf("Up = %v, want an error naming %s and wrapping fs.ErrExist", err, taken)
	}
	if ok, _ := tun.NamespaceExists(Namespace(prefix, "client")); ok {
		t.Error("Up created the client namespace before refusing")
	}
	if ok, _ := tun.NamespaceExists(taken); !ok {
		t.Error("Up deleted a namespace it did not create")
	}
}
