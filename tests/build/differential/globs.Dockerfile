FROM scratch
COPY *.txt /g/
COPY src/s?.txt /h/
COPY [ab].txt /i/
COPY src/s1*.txt /one
COPY s* /starts/
