package harness

import "autoresearch/internal/numfmt"

// Thousands writes n with commas between groups of three digits, like
// Python's {:,}: 1234567 -> 1,234,567 (numfmt.Thousands, for training programs).
func Thousands[T ~int | ~int64](n T) string { return numfmt.Thousands(n) }
