// A training file's hyperparameter block, as the sweep agent sees it.
package main

import "fmt"

// Model size.
const (
	DEPTH          = 8      // number of layers
	WINDOW_PATTERN = "SSSL" // attention windows per layer
	ASPECT_RATIO   = 64
)

// Optimisation.
const MATRIX_LR = 0.04 // Muon

const (
	EMBEDDING_LR     = 6e-1
	TOTAL_BATCH_SIZE = 1 << 19
	USE_BIAS         = false
	RUN_NAME         = "baseline" // not a pattern: left alone
	a, b             = 1, 2       // two names: left alone
)

var notAConstant = 3

func main() {
	fmt.Println(DEPTH, WINDOW_PATTERN, ASPECT_RATIO, MATRIX_LR, EMBEDDING_LR, TOTAL_BATCH_SIZE, USE_BIAS, RUN_NAME, a, b, notAConstant)
}
