FROM scratch
COPY a.txt /x/y/
COPY b.txt /x
COPY src /x/y
