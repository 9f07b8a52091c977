"""Cloze facts whose answers are several words long, for multi-token recall (written for the library, BSD-3-Clause)."""

FACT_RECALL = (
    ("The capital of Argentina is", "Buenos Aires"),
    ("The largest city in the United States is", "New York City"),
    ("The theory of relativity was developed by", "Albert Einstein"),
    ("The Mona Lisa was painted by", "Leonardo da Vinci"),
    ("Romeo and Juliet was written by", "William Shakespeare"),
    ("The first person to walk on the Moon was", "Neil Armstrong"),
    ("The tallest mountain in the world is", "Mount Everest"),
    ("The first president of the United States was", "George Washington"),
    ("The inventor of the telephone was", "Alexander Graham Bell"),
    ("Penicillin was discovered by", "Alexander Fleming"),
    ("The largest ocean on Earth is the", "Pacific Ocean"),
    ("The Starry Night was painted by", "Vincent van Gogh"),
    ("The Fifth Symphony was composed by", "Ludwig van Beethoven"),
    ("Pride and Prejudice was written by", "Jane Austen"),
    ("The laws of motion were formulated by", "Isaac Newton"),
    ("The first human in space was", "Yuri Gagarin"),
    ("The Declaration of Independence was mainly written by", "Thomas Jefferson"),
    ("The desert that covers much of North Africa is the", "Sahara Desert"),
    ("The 'I Have a Dream' speech was given by", "Martin Luther King"),
    ("The capital of India is", "New Delhi"),
    ("Microsoft was founded by", "Bill Gates"),
    ("Facebook was founded by", "Mark Zuckerberg"),
    ("The theory of evolution by natural selection was proposed by", "Charles Darwin"),
    ("The capital of Mexico is", "Mexico City"),
    ("Radioactivity was studied by Pierre and", "Marie Curie"),
    ("The river that flows through Cairo is the", "Nile River"),
    ("The wall built across northern China is the", "Great Wall of China"),
    ("The famous red bridge in San Francisco is the", "Golden Gate Bridge"),
    ("The novel 1984 was written by", "George Orwell"),
    ("The Harry Potter books were written by", "J. K. Rowling"),
    ("The capital of the Netherlands is", "Amsterdam"),
    ("The first emperor of Rome was", "Augustus Caesar"),
    ("The Sistine Chapel ceiling was painted by", "Michelangelo Buonarroti"),
    ("The Origin of Species was written by", "Charles Darwin"),
    ("The longest river in the United States is the", "Missouri River"),
    ("The city where the Colosseum stands is", "Rome, Italy"),
    ("The scientist who discovered gravity when an apple fell was", "Isaac Newton"),
    ("The largest country in South America is", "Brazil"),
    ("The Great Gatsby was written by", "F. Scott Fitzgerald"),
    ("The leader of India's independence movement was", "Mahatma Gandhi"),
    ("The Hobbit was written by", "J. R. R. Tolkien"),
    ("The city of the Golden Gate Bridge is", "San Francisco"),
    ("The planet known as the Red Planet is", "Mars"),
    ("The ship that sank in 1912 after hitting an iceberg was the", "RMS Titanic"),
    ("The highest waterfall in the world is", "Angel Falls"),
    ("The Eiffel Tower was designed by the engineer", "Gustave Eiffel"),
    ("The painter of The Last Supper was", "Leonardo da Vinci"),
    ("The capital of the United States is", "Washington, D.C."),
)

# Closed-class English words (determiners, pronouns, prepositions, conjunctions, auxiliary and modal
# verbs, particles): the function words of the decision-depth study. Everything else that is a whole
# alphabetic word is a content word.
FUNCTION_WORDS = frozenset("""
a an the this that these those my your his her its our their some any no every each either neither
all both few many much more most several such what which whose
i me you he him she it we us they them myself yourself himself herself itself ourselves themselves
who whom someone something anyone anything nobody nothing everyone everything one
of in on at by for with about against between into through during before after above below to from
up down out off over under again further than as like near since until upon within without around
among along across behind beyond toward towards onto per via
and or but nor so yet if because while although though unless whether when where how why then there
here also just not only very too
am is are was were be been being have has had having do does did doing
will would shall should can could may might must
's 't 're 've 'll 'd
""".split())
