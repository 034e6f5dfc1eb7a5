package status

import (
	"fmt"

	"autoresearch/internal/cost"
)

// spender is implemented by the reporters that show what the LLM costs.
type spender interface{ spent(cost.Spend) }

// Spent tells r what the run's LLM has cost so far, for a reporter that
// shows it: the live line keeps it at its end, plain lines say it once per
// experiment decided.
func Spent(r Reporter, s cost.Spend) {
	if v, ok := r.(spender); ok {
		v.spent(s)
	}
}

// shortSpend is the live line's part: "$0.42 ($0.14/exp, $0.42/keep)".
func shortSpend(s cost.Spend) string {
	out := cost.Dollars(s.Dollars)
	switch {
	case s.Experiments > 0 && s.Keeps > 0:
		out += fmt.Sprintf(" (%s/exp, %s/keep)", cost.Dollars(s.Dollars/float64(s.Experiments)), cost.Dollars(s.Dollars/float64(s.Keeps)))
	case s.Experiments > 0:
		out += fmt.Sprintf(" (%s/exp)", cost.Dollars(s.Dollars/float64(s.Experiments)))
	}
	return out
}

func (l *Live) spent(s cost.Spend) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spend = &s
	if l.shown {
		l.redraw()
	}
}

func (p *Plain) spent(s cost.Spend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spendShown != nil && p.spendShown.Experiments == s.Experiments {
		return
	}
	p.spendShown = &s
	p.printf("LLM cost so far: %s", s)
}
