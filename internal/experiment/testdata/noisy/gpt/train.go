// A noisy training program for the keep rule's tests: it reports VALUE plus
// the next of the offsets listed in the file $NOISE_FILE, one a line; the
// file $NOISE_FILE.n counts the runs so far (one byte a run).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"noisy/harness"
)

const (
	VALUE = 1.0 // the val_bpb it reports, before the noise
)

func main() {
	path := os.Getenv("NOISE_FILE")
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Println("no NOISE_FILE:", err)
		os.Exit(1)
	}
	seen, _ := os.ReadFile(path + ".n")
	lines := strings.Fields(string(b))
	if len(seen) >= len(lines) {
		fmt.Printf("run %d: only %d offsets in %s\n", len(seen)+1, len(lines), path)
		os.Exit(1)
	}
	off, err := strconv.ParseFloat(lines[len(seen)], 64)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := os.WriteFile(path+".n", append(seen, '.'), 0o644); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	harness.Report(VALUE+off, 0.01)
}
