#!/usr/bin/env bash
# Generates the demo pair into DIR: a 3-minute programme (synthetic music-and-effects bed with
# English dialogue) and its dub (German dialogue over a remixed bed, 2.5 s late, AAC, with the
# scene at 01:00-01:10 cut). Used by the quick-start demo and by a regression test.
# Needs ffmpeg and espeak-ng.
set -euo pipefail
out=${1:?usage: make-demo-pair.sh DIR}
mkdir -p "$out"
echo "generating the demo pair in $out/ ..." >&2
# Dialogue lines, one per language, placed every ~9 s.
espeak-ng -v en -s 150 -w "$out/en.wav" "The harbour lights were out when the boat came in. Nobody on the quay said a word. We waited for the tide, and for the captain, who never came." 2>/dev/null
espeak-ng -v de -s 150 -w "$out/de.wav" "Die Lichter im Hafen waren aus, als das Boot einlief. Niemand am Kai sagte ein Wort. Wir warteten auf die Flut und auf den Kapitaen, der nie kam." 2>/dev/null
# Non-repeating bed: seeded pink noise shaped by slow envelopes, plus a melodic line.
bed="anoisesrc=color=pink:seed=42:d=180:r=48000:a=0.3,volume='0.15+0.85*gt(sin(t*1.7)*sin(t*0.61+2),0.2)':eval=frame[n];aevalsrc='0.12*sin(2*PI*(220+110*floor(mod(t*3.1,7)))*t)*exp(-3*mod(t,0.37))':s=48000:d=180[m];[n][m]amix=inputs=2:normalize=0"
ffmpeg -v error -y -f lavfi -i "$bed" -stream_loop -1 -i "$out/en.wav" -filter_complex "[1:a]aresample=48000,atrim=0:180,volume=0.9[d];[0:a][d]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo" -t 180 "$out/master.wav"
ffmpeg -v error -y -f lavfi -i "$bed" -stream_loop -1 -i "$out/de.wav" -filter_complex \
  "[0:a]equalizer=f=2500:t=q:w=1:g=-5,volume=0.8[b];[1:a]aresample=48000,atrim=0:180,volume=0.9[d];[b][d]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo,aselect='not(between(t,60,70))',asetpts=N/SR/TB,adelay=2500:all=1" \
  -c:a aac -b:a 160k "$out/dub.m4a"
