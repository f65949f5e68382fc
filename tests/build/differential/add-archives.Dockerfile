FROM scratch
ADD archives/plain.tar /plain/
ADD archives/pkg.tgz /gz
ADD archives/pkg.tar.bz2 archives/pkg.tar.xz /multi/
ADD archives/notes.txt.gz archives/fake.tar.gz /copied/
ADD a.txt /plain-file
WORKDIR /w
ADD archives/plain.tar .
