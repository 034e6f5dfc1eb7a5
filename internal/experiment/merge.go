package experiment

import (
	"sort"
	"strings"
)

// merge3 carries the change from base to ours over to theirs, line by line,
// as a three-way merge does: both changes are found as hunks of base's lines,
// and when no hunk of one touches a hunk of the other the result has both.
// It reports false on a conflict: the two changes replace overlapping lines,
// or one inserts where the other changes.
func merge3(base, ours, theirs string) (string, bool) {
	b, o, t := splitLines(base), splitLines(ours), splitLines(theirs)
	hs, ht := lineHunks(b, o), lineHunks(b, t)
	all := append([]hunk(nil), hs...)
	for _, y := range ht {
		dup := false
		for _, x := range hs {
			if x.equal(y) {
				dup = true // the same change on both sides
				break
			}
			if x.conflicts(y) {
				return "", false
			}
		}
		if !dup {
			all = append(all, y)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].start < all[j].start })
	var out strings.Builder
	at := 0
	for _, h := range all {
		out.WriteString(strings.Join(b[at:h.start], ""))
		out.WriteString(strings.Join(h.lines, ""))
		at = h.end
	}
	out.WriteString(strings.Join(b[at:], ""))
	return out.String(), true
}

// hunk replaces base's lines [start, end) with lines; start == end inserts.
type hunk struct {
	start, end int
	lines      []string
}

func (h hunk) equal(g hunk) bool {
	return h.start == g.start && h.end == g.end && strings.Join(h.lines, "") == strings.Join(g.lines, "")
}

func (h hunk) conflicts(g hunk) bool {
	if h.start == h.end || g.start == g.end {
		// An insertion conflicts with anything at or around its place.
		return h.start <= g.end && g.start <= h.end
	}
	return h.start < g.end && g.start < h.end
}

// splitLines cuts s after each newline, keeping them, so that joining the
// lines gives s back.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.SplitAfter(s, "\n")[:strings.Count(s, "\n")+boolInt(!strings.HasSuffix(s, "\n"))]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lineHunks is the difference from a to b as hunks of a's lines, from a
// longest common subsequence of lines (after the common head and tail).
func lineHunks(a, b []string) []hunk {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	x, y := a[pre:len(a)-suf], b[pre:len(b)-suf]
	// lcs[i][j] is the length of the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var hs []hunk
	var cur *hunk
	flush := func() {
		if cur != nil {
			hs = append(hs, *cur)
			cur = nil
		}
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			flush()
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			if cur == nil {
				cur = &hunk{start: pre + i, end: pre + i}
			}
			cur.lines = append(cur.lines, y[j])
			j++
		default:
			if cur == nil {
				cur = &hunk{start: pre + i, end: pre + i}
			}
			cur.end = pre + i + 1
			i++
		}
	}
	flush()
	return hs
}
