package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// library holds the built-in scenarios, one file per scenario, named
// after it.
//
//go:embed library/*.yaml
var library embed.FS

// Library is the names of the built-in scenarios, sorted.
func Library() []string {
	entries, _ := fs.ReadDir(library, "library") // embedded: cannot fail
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Source is the text of the built-in scenario called name.
func Source(name string) ([]byte, error) {
	if !slices.Contains(Library(), name) {
		return nil, fmt.Errorf("no built-in scenario %q (there are %s): %w", name, strings.Join(Library(), ", "), fs.ErrNotExist)
	}
	return library.ReadFile(path.Join("library", name+".yaml"))
}

// Load parses and checks the built-in scenario called nameOrFile or,
// when there is none by that name, the scenario file at that path.
// Errors from parsing are *ParseError.
func Load(nameOrFile string) (*Scenario, error) {
	if src, err := Source(nameOrFile); err == nil {
		return Parse(path.Join("library", nameOrFile+".yaml"), src)
	}
	data, err := os.ReadFile(nameOrFile)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: not a built-in (%s) and not a readable file: %w", nameOrFile, strings.Join(Library(), ", "), err)
	}
	return Parse(nameOrFile, data)
}
