module noisy

go 1.22
