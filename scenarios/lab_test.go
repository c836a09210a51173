package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
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

// TestUpRefusesExistingNamespace checks that Up never takes over a
// namespace it did not create, and leaves it alone.
func TestUpRefusesExistingNamespace(t *testing.T) {
	needRoot(t)
	prefix := fmt.Sprintf("icmpgw-tx%d-", os.Getpid())
	taken := prefix + "server"
	if err := tun.CreateNamespace(taken); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.DeleteNamespace(taken) })
	_, err := Build(Default(), Options{Prefix: prefix, Seed: 1})
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), taken) {
		t.Fatalf("Up = %v, want an error naming %s and wrapping fs.ErrExist", err, taken)
	}
	if ok, _ := tun.NamespaceExists(prefix + "client"); ok {
		t.Error("Up created the client namespace before refusing")
	}
	if ok, _ := tun.NamespaceExists(taken); !ok {
		t.Error("Up deleted a namespace it did not create")
	}
}
