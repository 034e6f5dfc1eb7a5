//go:build !(linux || darwin || freebsd || dragonfly)

package doctor

import "errors"

func freeBytes(string) (uint64, error) {
	return 0, errors.New("free space is measured on Linux, macOS and FreeBSD only")
}
