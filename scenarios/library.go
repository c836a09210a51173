package scenarios

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
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
// when there is none by that name, the scenario file at that path. It
// reads only a regular file (symbolic links followed), and at most
// maxFileSize bytes of it. Errors from parsing, and the refusal of a
// file that is not regular or too big, are *ParseError.
func Load(nameOrFile string) (*Scenario, error) {
	if src, err := Source(nameOrFile); err == nil {
		return Parse(path.Join("library", nameOrFile+".yaml"), src)
	}
	unreadable := func(err error) error {
		return fmt.Errorf("scenario %s: not a built-in (%s) and not a readable file: %w", nameOrFile, strings.Join(Library(), ", "), err)
	}
	// O_NONBLOCK: opening a FIFO would wait for a writer. Only a regular
	// file is read: /dev/zero never ends.
	f, err := os.OpenFile(nameOrFile, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, unreadable(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, unreadable(err)
	}
	if err := checkRegular(nameOrFile, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, unreadable(err)
	}
	if len(data) > maxFileSize {
		return nil, tooBig(nameOrFile, max(fi.Size(), int64(len(data))))
	}
	return Parse(nameOrFile, data)
}

// checkRegular refuses fi, the file at name, unless it is a regular file.
func checkRegular(name string, fi fs.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	what := "an irregular file"
	switch m := fi.Mode(); {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	}
	return &ParseError{File: name, Got: what, Want: "a regular scenario file"}
}
