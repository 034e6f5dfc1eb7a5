// Package numfmt formats numbers for people: counts with thousands separators,
// as the training program's progress line and the CLI's tables print them.
package numfmt

import "strconv"

// Thousands writes n with commas between groups of three digits, like
// Python's {:,}: 1234567 -> 1,234,567.
func Thousands[T ~int | ~int64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	b := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return sign + string(b)
}
