"""Document 000's comparison: the IMDB protocol (``experiments.imdb``) with its defaults."""

from experiments.imdb import train as imdb
from experiments.imdb_attention import config
from rnn_attn.experiment.spec import describe

EXPERIMENT = imdb.protocol(
    "imdb_attention",
    config.ImdbConfig,
    imdb.build,
    doc=f"{describe(config.__doc__)} {config.DIFFERENCES}",
    reference=config.REFERENCE,
    local=config.LOCAL,
)
