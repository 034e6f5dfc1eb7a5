// A toy training program for the experiment loop's tests: it "trains" for
// SLEEP seconds and reports VALUE, or misbehaves as MODE says.
package main

import (
	"fmt"
	"os"
	"time"

	"toy/harness"
)

const (
	MODE  = "ok" // ok, panic, fail, nosummary, hang
	VALUE = 1.0  // the val_bpb it reports
	SLEEP = 0.05 // seconds of training
)

func main() {
	fmt.Printf("pid %d profile %s\n", os.Getpid(), os.Getenv("AUTORESEARCH_PROFILE"))
	const steps = 4
	start := time.Now()
	fmt.Println("warm-up: the first step stays out of the budget")
	for i := 1; i <= steps; i++ {
		time.Sleep(time.Duration(SLEEP * float64(time.Second) / steps))
		if i == 2 {
			fmt.Println("\nwarm-up done: the budget counts from here")
		}
		fmt.Printf("\rstep %05d (%.1f%%) | loss: %.6f    ", i, 100*float64(i)/steps, VALUE)
	}
	fmt.Println()
	switch MODE {
	case "panic":
		var xs []int
		fmt.Println(xs[3])
	case "fail":
		fmt.Println("FAIL")
		os.Exit(1)
	case "nosummary":
		fmt.Println("done, but no summary")
	case "hang":
		time.Sleep(time.Hour)
	default:
		harness.Report(VALUE, time.Since(start).Seconds())
	}
}
