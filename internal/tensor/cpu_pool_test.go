package tensor

import "testing"

func TestPoolSizeClasses(t *testing.T) {
	prev := 0
	for n := 1; n < 1<<20; n += 1 + n/7 {
		s := poolSize(n)
		if s < n || (n > 64 && float64(s) > 1.25*float64(n)) {
			t.Fatalf("poolSize(%d) = %d: want at least n and at most 25 %% more", n, s)
		}
		if s < prev {
			t.Fatalf("poolSize(%d) = %d is below the class of a smaller request (%d)", n, s, prev)
		}
		prev = s
	}
}

func TestPoolReusesFreedBuffers(t *testing.T) {
	c := newCPU[float32]("cpu")
	big := c.Alloc(F32, 10000)
	c.Write(big, 0, []float32{1, 2, 3})
	c.Free(big)
	// A smaller request within twice the size takes the freed buffer.
	small := c.Alloc(F32, 6000)
	if small != big {
		t.Fatal("a request of 6000 did not reuse the freed buffer of 10000")
	}
	if small.Len() != 6000 || len(c.f(small)) != 6000 {
		t.Fatalf("reused buffer has Len %d and %d elements, want 6000", small.Len(), len(c.f(small)))
	}
	c.Free(small)
	// Far smaller requests get their own buffer; the large one stays pooled.
	tiny := c.Alloc(F32, 1000)
	if tiny == big {
		t.Fatal("a request of 1000 took a buffer of 10000")
	}
	again := c.Alloc(F32, 10000)
	if again != big || again.Len() != 10000 {
		t.Fatalf("the pooled buffer did not come back at full length (Len %d)", again.Len())
	}
	ints := c.Alloc(I32, 6000)
	if ints == big || ints.DType() != I32 {
		t.Fatal("an int32 request took a float buffer")
	}
	if in, _ := c.Memory(); in != 4*(1000+10000+6000) {
		t.Errorf("in use %d bytes, want what was asked for", in)
	}
}
