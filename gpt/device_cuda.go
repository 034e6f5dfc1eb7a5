//go:build cuda || cudaemu

package main

// Built with -tags cuda (the runner does for --device cuda), the training program links the
// GPU backend, which registers the "cuda" device that tensor.Open finds. The program itself
// stays device-agnostic: this file is not the agent's to edit, train.go is.
import _ "autoresearch/internal/tensor/cuda"
