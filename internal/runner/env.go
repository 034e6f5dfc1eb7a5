package runner

import (
	"os"
	"strings"
)

// runKeys are the variables a training program inherits from the caller's
// environment; everything else, API keys and tokens included, stays behind.
var runKeys = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "LANG": true, "LC_ALL": true,
	"TZ": true, "TMPDIR": true, "GOMAXPROCS": true, "GOGC": true, "GOMEMLIMIT": true,
	"GODEBUG": true, "GOTRACEBACK": true, "LD_LIBRARY_PATH": true, "CUDA_HOME": true,
	"CUDA_VISIBLE_DEVICES": true, "NVIDIA_VISIBLE_DEVICES": true, "XDG_CACHE_HOME": true,
	"GOCACHE": true, "GOPATH": true, "GOROOT": true,
}

// secret reports whether a variable looks like a credential; such a variable
// is never passed on, whatever its prefix.
func secret(key string) bool {
	k := strings.ToUpper(key)
	for _, s := range []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// RunEnv returns the environment of a training run: the allowed basics of the
// caller's environment, then extra (KEY=VALUE), which wins.
func RunEnv(extra ...string) []string {
	return filterEnv(func(k string) bool { return runKeys[k] }, extra)
}

// BuildEnv returns the environment of a build: the run's basics plus the Go
// toolchain's and cgo's settings (GO*, CGO_*, CC, CXX, PKG_CONFIG*), then
// extra, which wins.
func BuildEnv(extra ...string) []string {
	return filterEnv(func(k string) bool {
		return runKeys[k] || strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "CGO_") ||
			k == "CC" || k == "CXX" || strings.HasPrefix(k, "PKG_CONFIG")
	}, extra)
}

func filterEnv(keep func(string) bool, extra []string) []string {
	var env []string
	set := map[string]bool{}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if keep(k) && !secret(k) && !set[k] {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}
