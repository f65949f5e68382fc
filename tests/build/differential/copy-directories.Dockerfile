FROM scratch
COPY src /dst
COPY src/ /dst2/
COPY src /merge
COPY other /merge
COPY empty /e
COPY . /all/
