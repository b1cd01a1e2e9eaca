"""Downstream evaluation: one-shot multiple-choice scoring (Tables 2, 6, 7, 10) and the data
it reads (OLMo's offline Arrow files, tfds at paper scale, a Shakespeare cloze suite), and
`checkpoint`, the one loader of a trained run's config and parameters. Fine-tuning (Table 3) is
the trainer task laser/train/finetune.py, which loads its pretrained LM through `checkpoint`."""
