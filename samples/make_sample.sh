#!/usr/bin/env bash
# Rebuilds samples/interview-techniques.mp4: a synthetic 720p lecture (slides + speech).
# Needs espeak-ng and DejaVu fonts (Debian: espeak-ng fonts-dejavu-core) and the venv's ffmpeg.
# The committed file is what the demo uses; this script documents how it was made.
set -euo pipefail
cd "$(dirname "$0")"
FF=$(../.venv/bin/python -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())")
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
espeak-ng -v en-us -s 150 -w "$tmp/speech.wav" -f lecture.txt
dur=$({ "$FF" -i "$tmp/speech.wav" 2>&1 || true; } | sed -n 's/.*Duration: \([0-9:.]*\).*/\1/p' | awk -F: '{print $1*3600+$2*60+$3+1.5}')
slide() { echo "drawtext=fontfile=$FONT:text='$1':fontcolor=white:fontsize=$2:x=(w-text_w)/2:y=$3:enable='between(t,$4,$5)'"; }
vf="$(slide 'Investigative interviewing' 56 200 0 999),$(slide 'The PEACE model' 40 320 0 12),$(slide 'Open questions. Silence. Listening.' 36 320 12 24),$(slide 'Summarise and check' 40 320 24 999),drawbox=x=0:y=680:w=1280*t/$dur:h=8:color=orange:t=fill"
"$FF" -hide_banner -loglevel error -y -f lavfi -i "color=c=0x1d3557:s=1280x720:r=25:d=$dur" -i "$tmp/speech.wav" \
  -vf "$vf" -af "apad" -t "$dur" -c:v libx264 -preset slow -crf 30 -tune stillimage -pix_fmt yuv420p \
  -c:a aac -b:a 64k -ac 1 -movflags +faststart interview-techniques.mp4
echo "wrote interview-techniques.mp4 ($dur s)"
