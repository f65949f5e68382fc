FROM scratch
WORKDIR /app
WORKDIR sub
COPY a.txt .
COPY b.txt rel/
WORKDIR /
WORKDIR /app
WORKDIR ../other/./x/..
COPY a.txt ./
