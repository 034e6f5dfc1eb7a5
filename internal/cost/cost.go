// Package cost prices what an LLM agent spent: tokens at the endpoint's
// prices, in dollars per million tokens. A run records the prices it was
// given beside each experiment's tokens (experiments.jsonl), so that the
// reports of the morning price the night as it was priced.
//
// Its terms:
//
//   - prices: dollars per million prompt tokens (in) and completion tokens
//     (out), from --price-in and --price-out or $AUTORESEARCH_PRICE_IN and
//     $AUTORESEARCH_PRICE_OUT.
//   - spend: a run's tokens at their prices, abandoned proposals and repairs
//     included; per experiment, over the experiments decided (the baseline
//     costs nothing and is not counted); per kept change, over the changes
//     kept after the baseline.
package cost

import (
	"fmt"
	"strconv"
	"strings"
)

// The variables that give the prices when the flags do not.
const (
	EnvIn  = "AUTORESEARCH_PRICE_IN"
	EnvOut = "AUTORESEARCH_PRICE_OUT"
)

// Prices are what an endpoint charges, in dollars per million tokens.
type Prices struct {
	In  float64 `json:"in"`  // prompt tokens
	Out float64 `json:"out"` // completion tokens
}

// Known reports whether any price is set.
func (p Prices) Known() bool { return p.In > 0 || p.Out > 0 }

// Of is what prompt and completion tokens cost, in dollars.
func (p Prices) Of(prompt, completion int64) float64 {
	return (float64(prompt)*p.In + float64(completion)*p.Out) / 1e6
}

// String is "$2.50 in, $10.00 out per million tokens".
func (p Prices) String() string {
	return fmt.Sprintf("%s in, %s out per million tokens", Dollars(p.In), Dollars(p.Out))
}

// Check says what is wrong with prices given as flags.
func (p Prices) Check() error {
	if p.In < 0 || p.Out < 0 {
		return fmt.Errorf("a price cannot be negative: give dollars per million tokens, e.g. --price-in 2.5 --price-out 10")
	}
	return nil
}

// FromEnv reads the prices of $AUTORESEARCH_PRICE_IN and
// $AUTORESEARCH_PRICE_OUT; unset ones are 0.
func FromEnv(getenv func(string) string) (Prices, error) {
	var p Prices
	for _, v := range []struct {
		name string
		to   *float64
	}{{EnvIn, &p.In}, {EnvOut, &p.Out}} {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		x, err := strconv.ParseFloat(strings.TrimPrefix(s, "$"), 64)
		if err != nil || x < 0 {
			return Prices{}, fmt.Errorf("$%s=%q is not a price: give dollars per million tokens, e.g. %s=2.5, or unset it", v.name, s, v.name)
		}
		*v.to = x
	}
	return p, nil
}

// Pricing says how to price a run's recorded tokens: each record's tokens
// at the prices it holds, those of a record without prices at Default; with
// Override, every record's at Default (prices given for the report, to
// price the run anew).
type Pricing struct {
	Default  Prices
	Override bool
}

// Known reports whether p prices anything: a record without prices of its
// own has no price when it does not.
func (p Pricing) Known() bool { return p.Default.Known() }

// Of is what a record's tokens cost, the record holding prices recorded
// (the zero Prices when it holds none); false when they have no price.
func (p Pricing) Of(recorded Prices, prompt, completion int64) (float64, bool) {
	prices := recorded
	if p.Override || !recorded.Known() {
		prices = p.Default
	}
	if !prices.Known() {
		return 0, prompt+completion == 0
	}
	return prices.Of(prompt, completion), true
}

// Dollars writes an amount as people read a bill: $4.20, and amounts under a
// cent with their first two significant digits ($0.0042, $0.001).
func Dollars(x float64) string {
	switch {
	case x == 0:
		return "$0.00"
	case x < 0.01 && x > -0.01:
		// Two significant digits, without trailing zeros: $0.001, $0.0042.
		return "$" + strings.TrimRight(strconv.FormatFloat(x, 'f', 1-int(floorLog10(x)), 64), "0")
	}
	return fmt.Sprintf("$%.2f", x)
}

// floorLog10 is the exponent of x's first significant digit.
func floorLog10(x float64) float64 {
	if x < 0 {
		x = -x
	}
	e := 0.0
	for x < 1 {
		x *= 10
		e--
	}
	return e
}

// Spend is what a run's LLM cost so far.
type Spend struct {
	Dollars     float64
	Experiments int // experiments decided, the baseline not counted
	Keeps       int // changes kept after the baseline
}

// String is "$4.20: $0.35 per experiment, $1.40 per kept change".
func (s Spend) String() string {
	out := Dollars(s.Dollars)
	var per []string
	if s.Experiments > 0 {
		per = append(per, Dollars(s.Dollars/float64(s.Experiments))+" per experiment")
	}
	switch {
	case s.Keeps > 0:
		per = append(per, Dollars(s.Dollars/float64(s.Keeps))+" per kept change")
	case s.Experiments > 0:
		per = append(per, "no change kept yet")
	}
	if len(per) > 0 {
		out += ": " + strings.Join(per, ", ")
	}
	return out
}
