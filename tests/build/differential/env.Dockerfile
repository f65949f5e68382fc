FROM scratch
ENV A=1 B="two words" C='single $A'
ENV LEGACY value with  spaces
ENV A=2 D=$A E=${A}x
ENV F=${UNSET:-default} G=${A:+set} H=${UNSET:+no} I=\$A
ENV DIR=/from-env FILE=a.txt
COPY $FILE ${DIR}/
WORKDIR $DIR/w
ENV A=3
