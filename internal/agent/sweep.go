package agent

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ErrExhausted is returned by the sweep agent's Propose when every neighbour
// of every constant's current value has been tried: the sweep is over.
var ErrExhausted = errors.New("every neighbouring value of every constant has been tried")

// Sweep is the offline proposer: each proposal changes one top-level constant
// of an editable Go file, or one numeric assignment of an upper-case name in
// any other editable text file (`LR = 0.5`, `DEPTH: 3`, `STEPS=4`), to a
// neighbouring value (a float rate halved or
// doubled, a decay factor such as a beta moved halfway to 1 or twice as far
// from it, a fraction such as a ratio halved or doubled up to 1, a float at 0
// stepped out to 0.05 or 0.1 for a fraction and 0.01 or 0.1 otherwise, an int size
// ±1 or ×2 or ÷2, a 1<<n size shifted by one, a bool flipped, an S/L window
// pattern with one letter changed or the pattern lengthened or shortened)
// and describes it as `NAME old -> new`. It never tries a (constant, value)
// pair that an earlier description names, on either side of its arrow: a
// resumed run does not repeat itself, and a kept change is not undone; nor
// the new value of a change in flight on another worker. The
// choice is random but a function of the seed and the experiment number
// only: the same run proposes the same changes.
type Sweep struct {
	seed uint64
}

// NewSweep returns a sweep agent drawing from seed.
func NewSweep(seed int64) *Sweep { return &Sweep{seed: uint64(seed)} }

// Name implements Proposer.
func (s *Sweep) Name() string { return "sweep" }

// Repair implements Proposer: the sweep has no way to fix a crash.
func (s *Sweep) Repair(context.Context, Request, Failure) (Proposal, error) {
	return Proposal{}, fmt.Errorf("the sweep agent cannot repair a crash: %w", ErrGaveUp)
}

// sweepDesc parses a sweep description: NAME old -> new.
var sweepDesc = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*) (.+) -> (.+)$`)

// Propose implements Proposer.
func (s *Sweep) Propose(ctx context.Context, req Request) (Proposal, error) {
	srcs := map[string][]byte{}
	var consts []Constant
	named := map[string]bool{}
	for _, rel := range req.Task.Editable {
		src, err := os.ReadFile(filepath.Join(req.Worktree, filepath.FromSlash(rel)))
		if err != nil {
			return Proposal{}, fmt.Errorf("sweep: %w", err)
		}
		var cs []Constant
		if strings.HasSuffix(rel, ".go") {
			if cs, err = Constants(src); err != nil {
				return Proposal{}, fmt.Errorf("sweep: %s: %w", rel, err)
			}
		} else {
			cs = TextConstants(src)
		}
		srcs[rel] = src
		for _, c := range cs {
			// A name is one knob: the first file that sets it owns it.
			if !named[c.Name] {
				named[c.Name] = true
				c.file = rel
				consts = append(consts, c)
			}
		}
	}
	files := strings.Join(req.Task.Editable, ", ")
	if len(consts) == 0 {
		return Proposal{}, fmt.Errorf("sweep: %s has no value the sweep can change: a top-level Go constant with a literal value, or an upper-case name set to a number (LR = 0.01, DEPTH: 4, STEPS=100)", files)
	}
	tried := map[string]bool{}
	for _, r := range req.Results {
		if m := sweepDesc.FindStringSubmatch(r.Description); m != nil {
			// The old value was measured too: it is the parent's.
			tried[key(m[1], m[2])] = true
			tried[key(m[1], m[3])] = true
		}
	}
	for _, d := range req.InFlight {
		// Being measured by another worker: as good as tried.
		if m := sweepDesc.FindStringSubmatch(d); m != nil {
			tried[key(m[1], m[3])] = true
		}
	}
	type move struct {
		c   Constant
		new string
	}
	var moves []move
	for _, c := range consts {
		tried[key(c.Name, c.Value)] = true // the current value is no change
		for _, v := range c.Neighbours() {
			if !tried[key(c.Name, v)] {
				moves = append(moves, move{c, v})
			}
		}
	}
	if len(moves) == 0 {
		return Proposal{}, fmt.Errorf("sweep of %s: %w", files, ErrExhausted)
	}
	rng := rand.New(rand.NewPCG(s.seed, uint64(req.N)))
	m := moves[rng.IntN(len(moves))]
	src := srcs[m.c.file]
	out := append(append(append([]byte(nil), src[:m.c.start]...), m.new...), src[m.c.end:]...)
	if strings.HasSuffix(m.c.file, ".go") {
		var err error
		if out, err = format.Source(out); err != nil {
			return Proposal{}, fmt.Errorf("sweep: the edit of %s does not parse: %w", m.c.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(req.Worktree, filepath.FromSlash(m.c.file)), out, 0o644); err != nil {
		return Proposal{}, fmt.Errorf("sweep: %w", err)
	}
	return Proposal{Description: fmt.Sprintf("%s %s -> %s", m.c.Name, m.c.Value, m.new)}, nil
}

// key names a (constant, value) pair; numbers are compared by value, so 3e-4
// and 0.0003 are the same try.
func key(name, value string) string {
	v := strings.TrimSpace(value)
	if f, err := strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64); err == nil {
		v = strconv.FormatFloat(f, 'g', -1, 64)
	} else if i, err := strconv.ParseInt(v, 0, 64); err == nil {
		v = strconv.FormatInt(i, 10)
	}
	return name + "=" + v
}

// Constant is a top-level constant whose value the sweep can change.
type Constant struct {
	Name  string
	Value string // its source text, e.g. 0.04, 8, "SSSL", 1 << 19, true
	Kind  string // float, int, shift, string, bool

	start, end int    // byte offsets of Value in the file
	file       string // the editable path it is in
}

// Constants lists the top-level constants of a Go file whose value is a
// literal the sweep understands, in source order.
func Constants(src []byte) ([]Constant, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var out []Constant
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if len(vs.Names) != 1 || len(vs.Values) != 1 || vs.Names[0].Name == "_" {
				continue
			}
			c := Constant{Name: vs.Names[0].Name}
			switch v := vs.Values[0].(type) {
			case *ast.BasicLit:
				switch v.Kind {
				case token.FLOAT:
					c.Kind = "float"
				case token.INT:
					c.Kind = "int"
				case token.STRING:
					if s, err := strconv.Unquote(v.Value); err == nil && windowPattern.MatchString(s) {
						c.Kind = "string"
					}
				}
			case *ast.Ident:
				if v.Name == "true" || v.Name == "false" {
					c.Kind = "bool"
				}
			case *ast.BinaryExpr:
				x, xok := v.X.(*ast.BasicLit)
				y, yok := v.Y.(*ast.BasicLit)
				if v.Op == token.SHL && xok && yok && x.Kind == token.INT && y.Kind == token.INT {
					c.Kind = "shift"
				}
			}
			if c.Kind == "" {
				continue
			}
			e := vs.Values[0]
			c.start, c.end = fset.Position(e.Pos()).Offset, fset.Position(e.End()).Offset
			c.Value = string(src[c.start:c.end])
			out = append(out, c)
		}
	}
	return out, nil
}

// textAssign is a numeric assignment of an upper-case name on a line of its
// own, as Python, shell, TOML, YAML, INI, Makefiles and JavaScript write it:
// `LR = 0.5`, `DEPTH: 3`, `STEPS=4`, `export N=2`, `LR: float = 0.5`,
// `const K = 8;`, with an optional comment after it. The second group is the
// number.
var textAssign = regexp.MustCompile(`(?m)^[ \t]*(?:(?:export|const|let|var|readonly|local)[ \t]+)*` +
	`([A-Z][A-Z0-9_]*)(?:[ \t]*:[ \t]*[A-Za-z_][A-Za-z0-9_.]*)?[ \t]*(?::=|[:=])[ \t]*` +
	`([-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?)` +
	`[ \t]*;?[ \t]*,?[ \t]*(?:(?:#|//|--).*)?\r?$`)

// TextConstants lists the numeric assignments of upper-case names in a text
// file (see textAssign), in file order. A float is a number written with a
// point or an exponent; the rest are ints.
func TextConstants(src []byte) []Constant {
	var out []Constant
	for _, m := range textAssign.FindAllSubmatchIndex(src, -1) {
		c := Constant{Name: string(src[m[2]:m[3]]), Value: string(src[m[4]:m[5]]), Kind: "int", start: m[4], end: m[5]}
		if strings.ContainsAny(c.Value, ".eE") {
			c.Kind = "float"
		}
		out = append(out, c)
	}
	return out
}

// windowPattern is a per-layer attention pattern: S (short window) and L (long).
var windowPattern = regexp.MustCompile(`^[SL]+$`)

// Neighbours returns the values one step away from the constant's value.
func (c Constant) Neighbours() []string {
	switch c.Kind {
	case "float":
		v, err := strconv.ParseFloat(strings.ReplaceAll(c.Value, "_", ""), 64)
		if err != nil {
			return nil
		}
		name := strings.ToUpper(c.Name)
		fraction := strings.Contains(name, "RATIO") || strings.Contains(name, "FRAC")
		switch {
		case v == 0 && fraction:
			// Halving or doubling 0 goes nowhere: step out to a small
			// fraction (a warm-up of 5 % of the budget, a final LR of 5 %).
			return []string{"0.05", "0.1"}
		case v == 0:
			// A switched-off term (weight decay, dropout, smoothing): try a
			// small amount of it.
			return []string{"0.01", "0.1"}
		case v > 0 && v < 1 && (strings.Contains(name, "BETA") || strings.Contains(name, "MOMENTUM")):
			// A decay factor lives below 1, and what matters is its
			// distance to 1 (the averaging horizon 1/(1-β)): halve or
			// double that distance, so 0.95 becomes 0.975 or 0.9, never 1.9.
			out := []string{floatLit(tidy(1 - (1-v)/2))}
			if d := 2 * (1 - v); d < 1 {
				out = append(out, floatLit(tidy(1-d)))
			}
			return out
		case v > 0 && v <= 1 && fraction:
			// A fraction (of the time budget, of the learning rate) stays
			// at most 1.
			out := []string{floatLit(v / 2)}
			if v*2 <= 1 {
				out = append(out, floatLit(v*2))
			}
			return out
		}
		return []string{floatLit(v / 2), floatLit(v * 2)}
	case "int":
		v, err := strconv.ParseInt(c.Value, 0, 64)
		if err != nil {
			return nil
		}
		steps := []int64{v - 1, v + 1, v * 2, v / 2}
		if v >= 16 && v&(v-1) == 0 {
			// A power of two of 16 or more is a size aligned on purpose (a
			// head dimension, a batch, a width ratio): one more or less
			// breaks the alignment or changes next to nothing, so only
			// halve or double it. Small counts such as a depth of 8 keep ±1.
			steps = []int64{v * 2, v / 2}
		}
		var out []string
		for _, n := range steps {
			// A positive size stays positive and distinct from the original.
			if n == v || (v > 0 && n < 1) || (v == 0 && n < 0) {
				continue
			}
			s := strconv.FormatInt(n, 10)
			if !contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	case "shift":
		base, shift, _ := strings.Cut(c.Value, "<<")
		n, err := strconv.Atoi(strings.TrimSpace(shift))
		if err != nil {
			return nil
		}
		b := strings.TrimSpace(base)
		var out []string
		if n > 0 {
			out = append(out, fmt.Sprintf("%s << %d", b, n-1))
		}
		return append(out, fmt.Sprintf("%s << %d", b, n+1))
	case "bool":
		if c.Value == "true" {
			return []string{"false"}
		}
		return []string{"true"}
	case "string":
		p, _ := strconv.Unquote(c.Value)
		var out []string
		add := func(s string) {
			if s != "" && s != p && !contains(out, strconv.Quote(s)) {
				out = append(out, strconv.Quote(s))
			}
		}
		for i := range p {
			b := []byte(p)
			b[i] = "SL"[strings.IndexByte("LS", p[i])]
			add(string(b))
		}
		add(p + "L")
		if len(p) > 1 {
			add(p[:len(p)-1])
		}
		return out
	}
	return nil
}

// tidy rounds v to 12 significant digits, so that 1-(1-0.95)/2 reads 0.975
// rather than 0.9749999999999999.
func tidy(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return r
}

// floatLit writes a float so that it stays a float constant (2 -> 2.0).
func floatLit(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
