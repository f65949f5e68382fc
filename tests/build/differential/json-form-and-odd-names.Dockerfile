FROM scratch
COPY ["with space.txt", "/sp/"]
COPY ["ünï.txt", "/u/"]
COPY ["a.txt", "b.txt", "/json/"]
