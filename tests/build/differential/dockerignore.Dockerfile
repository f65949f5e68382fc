FROM scratch
COPY . /all/
COPY src /src/
COPY *.txt /txt/
