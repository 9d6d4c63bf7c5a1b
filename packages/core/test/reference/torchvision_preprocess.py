"""Reference for preprocess.ts: the torchvision 0.14 ImageNet transform on PIL images.

    torchvision_preprocess.py [--crop-only] IMAGE...

For each IMAGE, `Image.open(path).convert('RGB')` then
Compose([Resize(224), CenterCrop(224), ToTensor(), Normalize(ImageNet mean, std)]);
--crop-only leaves out Resize (to test CenterCrop's padding of small images). Writes the
3x224x224 float32 tensors, CHW, little-endian, one after the other, to stdout.
"""
import sys

try:
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms
except ImportError as error:
    sys.exit(
        f'{sys.executable} lacks {error.name}: the preprocessing reference needs Debian\'s '
        'python3-torch, python3-torchvision and python3-pil (apt-get install them)'
    )

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def main(argv):
    crop_only = '--crop-only' in argv
    paths = [a for a in argv if a != '--crop-only']
    if not paths:
        sys.exit('usage: torchvision_preprocess.py [--crop-only] IMAGE...')
    steps = [] if crop_only else [transforms.Resize(224)]
    steps += [transforms.CenterCrop(224), transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    transform = transforms.Compose(steps)
    out = sys.stdout.buffer
    for path in paths:
        with Image.open(path) as im:
            tensor = transform(im.convert('RGB'))
        assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (3, 224, 224), tensor.shape
        out.write(tensor.contiguous().numpy().astype('<f4').tobytes())
    out.flush()


if __name__ == '__main__':
    main(sys.argv[1:])
