//go:build cuda || cudaemu

package cuda

import "math"

// toBF16 rounds a float32 to bfloat16 (round to nearest, ties to even), as __float2bfloat16
// does; NaN stays a quiet NaN.
func toBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// fromBF16 widens a bfloat16 to float32 exactly.
func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
