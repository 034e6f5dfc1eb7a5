package harness

import (
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// fakeBudget returns a budget of seconds whose steps take stepWall of wall
// clock and stepClock of budget clock each.
func fakeBudget(seconds float64, stepWall, stepClock time.Duration) *Budget {
	b := NewBudget(seconds, DeviceCUDA, nil, 100)
	var wall time.Time
	var clock time.Duration
	b.out, b.watching = io.Discard, false
	b.now = func() time.Time { return wall }
	b.clock = func() time.Duration { return clock }
	syncs := 0
	b.sync = func() error { // at the start and the end of each step: the step runs in between
		if syncs++; syncs%2 == 0 {
			wall, clock = wall.Add(stepWall), clock+stepClock
		}
		return nil
	}
	return b
}

// train runs steps until Done or an error, the loss falling as 1/step.
func train(t *testing.T, b *Budget, maxSteps int) (steps int, err error) {
	t.Helper()
	for steps < maxSteps {
		b.StartStep()
		if _, err := b.EndStep(1 / float64(steps+1)); err != nil {
			return steps + 1, err
		}
		steps++
		if b.Done() {
			return steps, nil
		}
	}
	t.Fatalf("not done after %d steps", maxSteps)
	return
}

func TestBudgetKeepsTheFirstStepsOutOfTheBudget(t *testing.T) {
	b := fakeBudget(1, 10*time.Millisecond, 10*time.Millisecond)
	steps, err := train(t, b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if steps != WarmupSteps+100 || b.CountedSteps() != 100 {
		t.Errorf("%d steps, %d counted; want %d warm-up steps then 100 of 10 ms", steps, b.CountedSteps(), WarmupSteps)
	}
	if math.Abs(b.Seconds()-1) > 1e-9 || b.Progress() != 1 || b.Remaining() != 0 {
		t.Errorf("seconds %g progress %g remaining %g", b.Seconds(), b.Progress(), b.Remaining())
	}
	if got := b.TokensPerSec(); math.Abs(got-100*100) > 1e-6 {
		t.Errorf("tokens/s %g, want 100 counted steps of 100 tokens in 1 s", got)
	}
}

func TestBudgetBoundsTheWarmup(t *testing.T) {
	// Steps of 0.1 s: the warm-up stops being excluded once it has cost a
	// quarter of the 1 s budget, after 3 steps, not 11.
	b := fakeBudget(1, 100*time.Millisecond, 100*time.Millisecond)
	steps, err := train(t, b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(math.Ceil(WarmupShare/0.1 - 1e-9)); steps-b.CountedSteps() != want {
		t.Errorf("%d warm-up steps, want %d", steps-b.CountedSteps(), want)
	}
}

func TestBudgetEndsStepsThatCannotFit(t *testing.T) {
	for _, c := range []struct {
		step    time.Duration
		failsAt int
	}{
		{2 * time.Second, 2},         // longer than the whole budget: the second step tells
		{150 * time.Millisecond, 3},  // fewer than MinSteps fit: the third step tells
		{1100 * time.Millisecond, 2}, // ... the budget alone
	} {
		b := fakeBudget(1, c.step, c.step)
		steps, err := train(t, b, 1000)
		if err == nil || steps != c.failsAt || !strings.Contains(err.Error(), "steps cannot fit the budget") {
			t.Errorf("steps of %s: error %v after %d steps, want it after %d", c.step, err, steps, c.failsAt)
		}
	}
	// Just under the bound, it trains.
	if _, err := train(t, fakeBudget(1, 95*time.Millisecond, 95*time.Millisecond), 1000); err != nil {
		t.Errorf("steps of 95 ms in a 1 s budget: %v", err)
	}
}

func TestBudgetCurve(t *testing.T) {
	b := fakeBudget(1, 10*time.Millisecond, 10*time.Millisecond)
	if _, err := train(t, b, 1000); err != nil {
		t.Fatal(err)
	}
	c := b.Curve()
	if len(c) != CurvePoints {
		t.Fatalf("%d curve points, want %d: %v", len(c), CurvePoints, c)
	}
	for i, p := range c {
		if want := float64(i+1) / CurvePoints; math.Abs(p.Progress-want) > 0.011 {
			t.Errorf("point %d at progress %g, want %g", i, p.Progress, want)
		}
		if i > 0 && !(p.Step > c[i-1].Step && p.Loss < c[i-1].Loss) {
			t.Errorf("point %d %+v does not follow %+v", i, p, c[i-1])
		}
	}
	if last := c[len(c)-1]; last.Step != WarmupSteps+100 || last.Loss != b.SmoothLoss() {
		t.Errorf("last point %+v, want step %d and the smoothed loss %g", last, WarmupSteps+100, b.SmoothLoss())
	}
}

func TestBudgetStopsAtTheWallClockCap(t *testing.T) {
	// A machine so busy that a step of 10 ms of compute takes 100 ms: the
	// steps stop after MaxStretch budgets of wall clock.
	b := fakeBudget(1, 100*time.Millisecond, 10*time.Millisecond)
	steps, err := train(t, b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(MaxStretch / 0.1); steps != want || b.Seconds() >= 1 {
		t.Errorf("%d steps, %g s of budget; want %d steps and less than the budget", steps, b.Seconds(), want)
	}
}

func TestBudgetCountsCPUTimeOnTheCPU(t *testing.T) {
	cpu := NewBudget(1, DeviceCPU, nil, 1)
	cpu.out = io.Discard
	if _, ok := processCPUTime(); !ok {
		t.Skip("no process CPU time here")
	}
	if !strings.HasPrefix(cpu.Rule(), "CPU time / ") {
		t.Fatalf("rule %q", cpu.Rule())
	}
	for range WarmupSteps { // warm-up steps of nothing
		cpu.StartStep()
		cpu.EndStep(1)
	}
	cpu.StartStep()
	time.Sleep(100 * time.Millisecond) // a program waiting gets no budget time
	cpu.EndStep(1)
	if cpu.Seconds() > 0.05 {
		t.Errorf("a step that slept 0.1 s counted %.3f s", cpu.Seconds())
	}
	before := cpu.Seconds()
	cpu.StartStep()
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; { // and one computing gets it
	}
	cpu.EndStep(1)
	if got := cpu.Seconds() - before; got <= 0 {
		t.Errorf("a step that computed for 0.1 s counted %.3f s", got)
	}
	if gpu := NewBudget(1, DeviceCUDA, nil, 1); gpu.Rule() != "wall clock" {
		t.Errorf("the GPU's rule is %q", gpu.Rule())
	}
}
