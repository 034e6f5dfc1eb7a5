package sandbox

import (
	"fmt"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// AllowedImports are the packages an editable Go file may import beyond
// those its baseline (the run's base commit) imports: the standard
// library's computation, text and data-structure packages. Everything that
// reaches outside the process is left out (os/exec, net and net/..., unsafe,
// plugin, syscall, cgo's "C"), so a proposal that
// adds one goes back to the agent before it is built. A package the
// baseline itself imports stays allowed.
var AllowedImports = []string{
	"bufio", "bytes", "cmp", "container/heap", "container/list", "container/ring",
	"encoding/binary", "encoding/json", "errors", "fmt", "hash/crc32", "hash/fnv", "io",
	"iter", "maps", "math", "math/big", "math/bits", "math/cmplx", "math/rand", "math/rand/v2",
	"slices", "sort", "strconv", "strings", "sync", "sync/atomic", "text/tabwriter", "time",
	"unicode", "unicode/utf8",
}

// ImportError is an editable file that imports what it may not.
type ImportError struct {
	File    string
	Imports []string // the imports not allowed
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("%s imports %s, which the training program may not use: it runs sandboxed (no network, no other programs, no files outside its scratch folder). "+
		"Allowed are the packages the baseline imports and %s. Remove the import",
		e.File, strings.Join(e.Imports, ", "), strings.Join(AllowedImports, ", "))
}

// CheckImports checks that the Go source proposed for file imports only
// what baseline (the file's source at the run's base commit) imports plus
// AllowedImports. A file that does not parse passes: the compiler says
// better what is wrong with it.
func CheckImports(file string, baseline, proposed []byte) error {
	allowed := map[string]bool{}
	for _, p := range AllowedImports {
		allowed[p] = true
	}
	base, _ := imports(file, baseline)
	for _, p := range base {
		allowed[p] = true
	}
	got, err := imports(file, proposed)
	if err != nil {
		return nil
	}
	var bad []string
	for _, p := range got {
		if !allowed[p] {
			bad = append(bad, strconv.Quote(p))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return &ImportError{File: file, Imports: bad}
}

func imports(name string, src []byte) ([]string, error) {
	if src == nil {
		return nil, nil
	}
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, imp := range f.Imports {
		if p, err := strconv.Unquote(imp.Path.Value); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}
