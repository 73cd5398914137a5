#!/usr/bin/env bash
# Rebuilds samples/interview-techniques.mp4: a synthetic 720p lecture (slides) with two
# audio streams, as a recording desk delivers an interpreted session:
#   stream 0  the English floor, lecture.txt spoken by espeak-ng
#   stream 1  a Russian interpreter, lecture.ru.txt (a human translation) spoken by
#             festival's msu_ru_nsh voice, each sentence starting 1.5-2.5 s after its
#             English sentence (place_speech.py)
# Needs espeak-ng, festival, festvox-ru and DejaVu fonts (Debian: espeak-ng festival
# festvox-ru fonts-dejavu-core) and the venv (numpy, imageio-ffmpeg).
# The committed file is what the demo uses; this script documents how it was made.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}  # the repository venv, or say which
FF=$("$PY" -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())")
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# One sentence per line; line N of each file is the same sentence.
[ "$(wc -l < lecture.txt)" -eq "$(wc -l < lecture.ru.txt)" ] \
    || { echo "lecture.txt and lecture.ru.txt must have the same number of lines" >&2; exit 1; }
n=0
while IFS= read -r line; do
    espeak-ng -v en-us -s 150 -w "$tmp/en_$(printf %02d $n).wav" "$line"
    n=$((n + 1))
done < lecture.txt
n=0
while IFS= read -r line; do
    f="$tmp/ru_$(printf %02d $n)"
    printf '%s\n' "$line" > "$f.txt"  # text2wave reads UTF-8 from a file
    text2wave -eval '(voice_msu_ru_nsh_clunits)' "$f.txt" -o "$f.wav" 2>/dev/null
    n=$((n + 1))
done < lecture.ru.txt

# "<total> <start of sentence 0> <start of sentence 1> ..." in seconds
read -r -a t <<< "$("$PY" place_speech.py "$tmp")"
dur=${t[0]}; s3=${t[4]}; s7=${t[8]}  # slides change at sentences 3 and 7

slide() { echo "drawtext=fontfile=$FONT:text='$1':fontcolor=white:fontsize=$2:x=(w-text_w)/2:y=$3:enable='between(t,$4,$5)'"; }
vf="$(slide 'Investigative interviewing' 56 200 0 999),$(slide 'The PEACE model' 40 320 0 "$s3"),$(slide 'Open questions. Silence. Listening.' 36 320 "$s3" "$s7"),$(slide 'Summarise and check' 40 320 "$s7" 999),drawbox=x=0:y=680:w=1280*t/$dur:h=8:color=orange:t=fill"
# Speech in mono AAC at 24 kHz, 48 kbit/s: clear for listeners and Whisper, and small
# enough to commit (the pipeline re-encodes to stereo for HLS anyway).
"$FF" -hide_banner -loglevel error -nostdin -y -f lavfi -i "color=c=0x1d3557:s=1280x720:r=25:d=$dur" \
  -i "$tmp/floor.wav" -i "$tmp/interp.wav" -map 0:v -map 1:a -map 2:a \
  -vf "$vf" -t "$dur" -c:v libx264 -preset slow -crf 30 -tune stillimage -pix_fmt yuv420p \
  -c:a aac -b:a 48k -ac 1 -ar 24000 \
  -metadata:s:a:0 language=eng -metadata:s:a:0 title=Floor \
  -metadata:s:a:1 language=rus -metadata:s:a:1 title=Interpretation \
  -movflags +faststart interview-techniques.mp4
echo "wrote interview-techniques.mp4 ($dur s, floor + interpretation)"
