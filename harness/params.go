package harness

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// ParamsHeader is the line the parameter table starts with; a blank line ends
// the part of the log that belongs with it (the task's log section).
const ParamsHeader = "Parameters:"

// Param is one parameter as the parameter table shows it: its name, shape and
// size, and the optimizer group that updates it with the group's learning
// rate and weight decay at the start.
type Param struct {
	Name        string
	Shape       []int
	Group       string
	LR          float64
	WeightDecay float64
}

// PrintParameters writes the parameter table a training program prints at
// start, for its log and for the research agent, who sees this part of the
// best run's log: one row per parameter in the order given, where the
// parameters of a stack of layers that differ only in the layer's number
// (and agree in shape, group, rate and decay) share a row that lists the
// numbers, "transformer.h.{0-7}.attn.c_q.weight". It ends with the total
// count, which it returns: the summary's num_params.
func PrintParameters(w io.Writer, params []Param) (total int, err error) {
	type row struct {
		p       Param
		pattern string
		layers  []int
		count   int
	}
	var rows []*row
	for _, p := range params {
		n := 1
		for _, s := range p.Shape {
			n *= s
		}
		total += n
		pattern, layer := layerPattern(p.Name)
		i := slices.IndexFunc(rows, func(r *row) bool {
			return layer >= 0 && r.pattern == pattern && slices.Equal(r.p.Shape, p.Shape) && r.p.Group == p.Group &&
				r.p.LR == p.LR && r.p.WeightDecay == p.WeightDecay
		})
		if i < 0 {
			rows = append(rows, &row{p: p, pattern: pattern})
			i = len(rows) - 1
		}
		rows[i].count += n
		if layer >= 0 {
			rows[i].layers = append(rows[i].layers, layer)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, ParamsHeader)
	fmt.Fprintln(tw, "  name\tshape\tcount\tgroup\tlr\tweight decay")
	for _, r := range rows {
		name := r.p.Name
		if len(r.layers) > 1 {
			slices.Sort(r.layers)
			name = strings.Replace(r.pattern, "*", "{"+numberList(r.layers)+"}", 1)
		}
		fmt.Fprintf(tw, "  %s\t%v\t%s\t%s\t%.6g\t%g\n", name, r.p.Shape, Thousands(r.count), r.p.Group, r.p.LR, r.p.WeightDecay)
	}
	fmt.Fprintf(tw, "  total\t\t%s\n", Thousands(total))
	return total, tw.Flush()
}

// layerPattern is name with its first numeric part (a layer's number)
// replaced by "*", and that number; -1 for a name without one.
func layerPattern(name string) (string, int) {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if n, err := strconv.Atoi(p); err == nil && n >= 0 {
			parts[i] = "*"
			return strings.Join(parts, "."), n
		}
	}
	return name, -1
}

// numberList writes ascending numbers with runs shortened: "0-7", "1,3,5,7".
func numberList(ns []int) string {
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		case j > i:
			parts = append(parts, strconv.Itoa(ns[i]), strconv.Itoa(ns[j]))
		default:
			parts = append(parts, strconv.Itoa(ns[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
