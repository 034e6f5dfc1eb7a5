package report

import (
	"fmt"
	"io"
	"strings"

	"autoresearch/internal/audit"
)

// auditNote says when the run went on after its audit: the audit's best is
// then not the run's best any more.
func auditNote(a *Analysis) string {
	au := a.Audit
	if au == nil || len(au.Programs) == 0 || a.Best < 0 {
		return ""
	}
	if n := au.Programs[len(au.Programs)-1].N; n != a.Best {
		return fmt.Sprintf("the run kept more after this audit: its best is now #%d, the audit's #%d", a.Best, n)
	}
	return ""
}

// auditText writes the audit under the results table.
func auditText(w io.Writer, a *Analysis) {
	if a.AuditProblem != "" {
		fmt.Fprintf(w, "\naudit: %s\n", a.AuditProblem)
	}
	if a.Audit == nil {
		return
	}
	fmt.Fprintln(w)
	if note := auditNote(a); note != "" {
		fmt.Fprintf(w, "note: %s\n", note)
	}
	audit.WriteTable(w, a.Audit)
}

// auditMarkdown writes the audit as a section of the Markdown summary.
func auditMarkdown(w io.Writer, a *Analysis) {
	au := a.Audit
	if au == nil {
		return
	}
	s := au.Summarize()
	fmt.Fprintf(w, "\n## Audit\n\n%s.", mdEscape(au.Heading()))
	if st := au.State(); st != "" {
		fmt.Fprintf(w, " %s.", mdEscape(st))
	}
	if note := auditNote(a); note != "" {
		fmt.Fprintf(w, " Note: %s.", note)
	}
	fmt.Fprintln(w)
	values, steps := au.Cells(s)
	if values == nil {
		return
	}
	fmt.Fprintln(w)
	mdTable(w, values, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "\nHeld: %s.\n", mdEscape(s.HeldLine()))
	if steps == nil {
		return
	}
	fmt.Fprintf(w, "\nThe %s.\n\n", mdEscape(audit.StepsCaption))
	mdTable(w, steps, "|---:|---|---:|---:|---|---|")
	fmt.Fprintf(w, "\n%s\n", mdEscape(au.Conclusion(s)))
}

// mdTable writes rows, the first being the header, as a Markdown table.
func mdTable(w io.Writer, rows [][]string, rule string) {
	for i, r := range rows {
		cells := make([]string, len(r))
		for j, c := range r {
			if c != "" {
				cells[j] = mdEscape(c)
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		if i == 0 {
			fmt.Fprintln(w, rule)
		}
	}
}

// auditView is the page's audit section.
type auditView struct {
	Heading, State, Note, Problem string
	Values, Steps                 *auditTable
	Held, StepsCaption            string
	Conclusion                    string
	Failed                        bool // some kept change did not hold
}

// auditTable is a table of the audit: its header and rows.
type auditTable struct {
	Head []string
	Rows []auditRow
}

type auditRow struct {
	Class string // "worse" for a kept change that did not hold
	Cells []auditCell
}

type auditCell struct {
	Text, Href string
	Num        bool // right-aligned
}

func newAuditView(a *Analysis) *auditView {
	au := a.Audit
	if au == nil {
		if a.AuditProblem == "" {
			return nil
		}
		return &auditView{Problem: a.AuditProblem}
	}
	s := au.Summarize()
	v := &auditView{Heading: au.Heading(), State: au.State(), Note: auditNote(a), Held: s.HeldLine(),
		StepsCaption: audit.StepsCaption, Conclusion: au.Conclusion(s), Failed: len(s.Failed()) > 0}
	values, steps := au.Cells(s)
	if values != nil {
		v.Values = newAuditTable(values, func(row []string, i int) auditCell {
			return auditCell{Text: row[i], Num: i == 1 || i == 2}
		})
	}
	if steps != nil {
		v.Steps = newAuditTable(steps, func(row []string, i int) auditCell {
			c := auditCell{Text: row[i], Num: i == 0 || i == 2 || i == 3}
			if i == 0 {
				c.Href = "#exp-" + row[0]
			}
			return c
		})
		for i, r := range v.Steps.Rows {
			if steps[i+1][4] == "NO" {
				r.Class = "worse"
				v.Steps.Rows[i] = r
			}
		}
	}
	return v
}

// newAuditTable makes a table of cells, the first row its header.
func newAuditTable(rows [][]string, cell func(row []string, i int) auditCell) *auditTable {
	t := &auditTable{Head: rows[0]}
	for _, r := range rows[1:] {
		var row auditRow
		for i := range r {
			row.Cells = append(row.Cells, cell(r, i))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
