# a comment before FROM
FROM scratch

COPY a.txt \
# a comment inside the continuation
     b.txt \

     /cont/
  ENV SPLIT=one\
two
cmd ["lower", "case"]
