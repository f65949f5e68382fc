FROM scratch
COPY alink /l/
COPY abslink /abs
COPY dirlink /dl
COPY src/link /followed
