//go:build cuda

package ptx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// IncludeCandidates lists, in order of preference, the folders where the CUDA headers may be:
// $CUDA_HOME and $CUDA_PATH (the toolkit's conventional variables), the default toolkit
// location, then the project's own SDK of scripts/cuda-sdk.sh ($CUDA_SDK or its default).
func IncludeCandidates() []string {
	var dirs []string
	for _, env := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if v := os.Getenv(env); v != "" {
			dirs = append(dirs, filepath.Join(v, "include"))
		}
	}
	dirs = append(dirs, filepath.Join(string(filepath.Separator), "usr", "local", "cuda", "include"))
	if v := os.Getenv("CUDA_SDK"); v != "" {
		dirs = append(dirs, filepath.Join(v, "include"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "autoresearch", "cuda-sdk", "include"))
	}
	return dirs
}

// FindInclude returns the first candidate folder that has cuda_bf16.h.
func FindInclude() (string, error) {
	dirs := IncludeCandidates()
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "cuda_bf16.h")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("CUDA headers not found (no cuda_bf16.h in %s): set CUDA_HOME to the CUDA toolkit, "+
		"or run scripts/cuda-sdk.sh", strings.Join(dirs, ", "))
}
