module gofast

go 1.22
