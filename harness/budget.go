package harness

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	"autoresearch/internal/contract"
)

// The training budget and the clock it is counted on.
//
// A run trains for its profile's TimeBudget seconds of budget clock:
//
//   - On a GPU (device cuda) the budget clock is wall-clock time, measured
//     between device syncs, as in the original.
//   - On the CPU it is the CPU time the process got divided by the threads it
//     may run: runtime.GOMAXPROCS, at most the CPUs it may use (its affinity
//     mask, and the cgroup limit Go applies to GOMAXPROCS). The tensor
//     backend's GEMMs and every other kernel run on goroutines, so this
//     counts all of the program's compute, and a worker given a share of the
//     cores (GOMAXPROCS or an affinity mask) is timed against that share. On
//     an idle machine this clock runs a little slower than the wall (the
//     single-threaded parts of a step use one of the threads); on a loaded
//     machine it keeps counting the compute the program got, so a busy
//     neighbour costs wall time, not steps.
//
// Warm-up: the first WarmupSteps steps stay out of the budget, as the
// original's do (they pay one-time costs: buffer pools, kernel compilation),
// but only until they have cost WarmupShare of the budget; the steps after
// that count, whatever their number.
//
// A wall-clock cap: however busy the machine, the steps (warm-up included)
// stop after MaxStretch budgets of wall-clock time, so that a run on a
// crowded machine ends with a result (on fewer steps, and it says so) rather
// than at the hard limit.
//
// Fast failure: a program whose steps cannot fit the budget ends early. After
// the first step (which pays the one-time costs) EndStep fails when a step
// takes longer than the whole budget, and from the third step on when the
// faster of the second and third steps shows that fewer than MinSteps steps
// fit; a training program exits with the error. A step that is still running
// when it has cost the whole budget cannot fit either: the budget ends the
// program then, with the same error as its last line, rather than wait for the
// step or the runner's hard limit.
const (
	WarmupSteps = 11   // steps 0..10 stay out of the budget, as the original's
	WarmupShare = 0.25 // ... until they have cost this share of the budget
	MinSteps    = 10   // a budget that holds fewer steps than this measures nothing
	MaxStretch  = 5    // on the CPU the steps stop after this many budgets of wall-clock time
	CurvePoints = 10   // points of the training curve, at every tenth of the budget
)

// Lines the budget prints, for a runner that shows the phase of a run (the
// program-to-loop contract's).
const (
	WarmupLine     = contract.WarmupLine     // the warm-up steps start
	WarmupDoneLine = contract.WarmupDoneLine // the budget starts counting
)

// Budget is the clock of one training run: it times each step, keeps the
// warm-up steps out of the budget (bounded), says when the budget is spent,
// and records the training curve. A training program calls StartStep and
// EndStep around each step and reads Progress, Done and the figures.
type Budget struct {
	seconds       float64 // the profile's TimeBudget
	rule          string  // how the clock counts, in words
	tokensPerStep int
	sync          func() error
	now           func() time.Time     // wall clock
	clock         func() time.Duration // budget clock
	out           io.Writer

	step             int // steps ended
	warming, capped  bool
	loopStart        time.Time // the first step's start
	warmup, training float64   // budget-clock seconds of warm-up and of counted steps
	countedSteps     int
	fastest          float64 // the fastest step after the first, budget clock
	wallStart        time.Time
	clockStart       time.Duration
	err              error
	watch            sync.Mutex // guards running and clockStart for the watchdog
	running          bool       // a step is between StartStep and EndStep
	watching         bool       // the watchdog runs (not under test clocks)
	ema              float64    // the smoothed training loss (EMA 0.9, debiased when read)
	curve            []CurvePoint
}

// CurvePoint is the smoothed training loss (SmoothLoss) after Step steps,
// when the budget had reached Progress.
type CurvePoint = contract.CurvePoint

// Budget returns the budget clock of this run for steps of tokensPerStep
// tokens. sync waits for the device's queued work (tensor.Device.Sync), so
// that a step's time is its real time.
func (e *Env) Budget(sync func() error, tokensPerStep int) *Budget {
	return NewBudget(e.Profile.TimeBudget, e.Device, sync, tokensPerStep)
}

// NewBudget returns a budget clock of seconds on device (DeviceCPU or
// DeviceCUDA), for programs that do not train through an Env.
func NewBudget(seconds float64, device string, sync func() error, tokensPerStep int) *Budget {
	start := time.Now()
	b := &Budget{seconds: seconds, rule: "wall clock", tokensPerStep: tokensPerStep, sync: sync,
		now: time.Now, clock: func() time.Duration { return time.Since(start) }, out: os.Stdout, warming: true, watching: true}
	if _, ok := processCPUTime(); ok && device == DeviceCPU {
		threads := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
		b.clock = func() time.Duration { t, _ := processCPUTime(); return t / time.Duration(threads) }
		b.rule = fmt.Sprintf("CPU time / %d threads", threads)
	}
	return b
}

// Rule says how the budget is counted, e.g. "CPU time / 2 threads".
func (b *Budget) Rule() string { return b.rule }

// StartStep waits for the device and starts timing a step.
func (b *Budget) StartStep() {
	if b.step == 0 {
		b.loopStart = b.now()
		fmt.Fprintf(b.out, "%sthe first %d steps stay out of the %gs budget (%s), at most %.2fs of them\n",
			WarmupLine, WarmupSteps, b.seconds, b.rule, WarmupShare*b.seconds)
		if b.watching {
			go b.watchdog()
		}
	}
	if b.sync != nil && b.err == nil {
		b.err = b.sync()
	}
	b.watch.Lock()
	b.wallStart, b.clockStart, b.running = b.now(), b.clock(), true
	b.watch.Unlock()
}

// watchdog ends the program when a step has run for longer than the whole
// budget and is still running.
func (b *Budget) watchdog() {
	for range time.Tick(100 * time.Millisecond) {
		b.watch.Lock()
		took := (b.clock() - b.clockStart).Seconds()
		over := b.running && took > b.seconds
		b.watch.Unlock()
		if over {
			fmt.Fprintf(os.Stderr, "\nerror: steps cannot fit the budget: step %d has taken %.1fs (%s) and is still running, longer than the %gs budget; "+
				"training stopped early: make each step cheaper (a smaller model or batch)\n", b.step, took, b.rule, b.seconds)
			os.Exit(1)
		}
	}
}

// EndStep waits for the device and ends the step whose training loss was
// loss: it counts the step's time (unless it is a warm-up step) and records
// the training curve. It returns the step's wall-clock seconds, for the
// progress line, and an error when the device failed or the steps cannot fit
// the budget (see the package's budget rules).
func (b *Budget) EndStep(loss float64) (wallSeconds float64, err error) {
	if b.sync != nil && b.err == nil {
		b.err = b.sync()
	}
	b.watch.Lock()
	defer b.watch.Unlock()
	b.running = false
	wall := b.now().Sub(b.wallStart).Seconds()
	dt := (b.clock() - b.clockStart).Seconds()
	if b.err != nil {
		return wall, b.err
	}
	b.step++
	b.ema = 0.9*b.ema + 0.1*loss
	if b.warming {
		b.warmup += dt
		if b.step >= WarmupSteps || b.warmup >= WarmupShare*b.seconds {
			b.warming = false
			fmt.Fprintf(b.out, "\n%safter %d steps and %.2fs; the budget counts from here\n", WarmupDoneLine, b.step, b.warmup)
		}
	} else {
		b.training += dt
		b.countedSteps++
		for len(b.curve) < CurvePoints && b.Progress() >= float64(len(b.curve)+1)/CurvePoints {
			b.curve = append(b.curve, CurvePoint{Progress: b.Progress(), Step: b.step, Loss: b.SmoothLoss()})
		}
	}
	if !b.Done() && b.now().Sub(b.loopStart).Seconds() >= MaxStretch*b.seconds {
		b.capped = true
		fmt.Fprintf(b.out, "\nbudget: the steps took %g × the %gs budget in wall-clock time (the machine is busy); stopping after %.2fs of the budget\n",
			float64(MaxStretch), b.seconds, b.training)
	}
	if b.step >= 2 && (b.fastest == 0 || dt < b.fastest) {
		b.fastest = dt
	}
	if b.step == 2 && dt > b.seconds || b.step >= 3 && b.fastest*MinSteps > b.seconds {
		b.err = fmt.Errorf("steps cannot fit the budget: a step takes %.2fs (%s), so the %gs budget holds fewer than %d steps; "+
			"training stopped early: make each step cheaper (a smaller model or batch)", b.fastest, b.rule, b.seconds, MinSteps)
	}
	return wall, b.err
}

// Progress is the share of the budget spent, 0 to 1.
func (b *Budget) Progress() float64 { return min(b.training/b.seconds, 1) }

// Done reports whether the budget is spent (never during warm-up), or the
// steps reached the wall-clock cap.
func (b *Budget) Done() bool { return b.capped || !b.warming && b.training >= b.seconds }

// Remaining is the budget left, in seconds.
func (b *Budget) Remaining() float64 { return max(0, b.seconds-b.training) }

// WarmingUp reports whether the steps run now stay out of the budget.
func (b *Budget) WarmingUp() bool { return b.warming }

// Seconds is the training time counted so far, warm-up excluded.
func (b *Budget) Seconds() float64 { return b.training }

// CountedSteps is the number of steps the budget counted (warm-up excluded).
func (b *Budget) CountedSteps() int { return b.countedSteps }

// SmoothLoss is the training loss smoothed as the progress line shows it: an
// exponential moving average (β 0.9) over every step, debiased.
func (b *Budget) SmoothLoss() float64 {
	if b.step == 0 {
		return math.NaN()
	}
	return b.ema / (1 - math.Pow(0.9, float64(b.step)))
}

// TokensPerSec is the training throughput on the budget clock: the tokens of
// the counted steps over their seconds.
func (b *Budget) TokensPerSec() float64 {
	if b.training <= 0 {
		return 0
	}
	return float64(b.countedSteps*b.tokensPerStep) / b.training
}

// Curve is the smoothed training loss at every tenth of the budget.
func (b *Budget) Curve() []CurvePoint { return append([]CurvePoint(nil), b.curve...) }
