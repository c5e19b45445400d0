"""What words mean for matching by meaning: senses per language, their opposites, negation.

A *sense* is a small set of words that ask for the same thing ("open", "launch", "fire up").
Rules and utterances are both read as sets of senses; a match by meaning needs the utterance to
share a sense that names the action with the rule and never to ask for the opposite of one of the
rule's senses ("louder" is never "volume down"). Forms are normalized words (lower case, numbers as
digits); several words are a phrase; a form ending in `*` is a stem (Russian endings vary).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from loki.profiles.normalize import normalize


def _forms(text: str) -> tuple[str, ...]:
    """'open | one more | my_' -> ("open", "1 more", "my "), read as utterances are (a trailing '_' keeps a word whole)."""
    out = []
    for form in (f.strip() for f in text.split("|")):
        if not form:
            continue
        suffix = "*" if form.endswith("*") else " " if form.endswith("_") else ""
        words = normalize(form.rstrip("*_"), strip_fillers=False).text
        out.append(words + suffix)
    return tuple(dict.fromkeys(out))


def _table(text: str) -> dict[str, tuple[str, ...]]:
    """One sense a line: 'open: open | launch | fire up'."""
    table = {}
    for line in text.strip().splitlines():
        sense, _, forms = line.partition(":")
        table[sense.strip()] = _forms(forms)
    return table


# Senses that name what to do (an utterance needs one of these to act), then what to act on.
_EN_ACTIONS = _table("""
open: open | launch | start | start up | run | would like | fire up | boot up | bring up | pull up | load up | get me | give me | show me | i need | i want | need | spin up | kick off
close: close | shut | shut down | get rid of | kill | exit | quit | dismiss | ditch | lose | x out | throw away | remove | close out | trash
minimize: minimize | minimise | hide | shrink | tuck away | put away | send to the taskbar | put away | put it away | out of the way | out of my way | out of sight
maximize: maximize | maximise | full screen | fullscreen | enlarge | make it big | make it bigger | bigger | fill the screen | whole screen | expand
switch: switch | change | swap | flip | cycle | toggle
next: next | skip | following | 1 after | forward 1 | on the right | over
previous: previous | prior | last | 1 before | preceding | back 1 | earlier | on the left | before
up: up | louder | raise | increase | boost | crank | pump | higher | more volume | too quiet | too soft | turn it up | cannot hear | can not hear | barely hear | hardly hear | turn up | bump up
down: down | quieter | softer | lower | decrease | reduce | less volume | too loud | turn down | tone down | turn it down | bring down | deafening | hurts my ears
mute: mute | silence | silent | kill the sound | sound off | no sound | cut the sound | turn off the sound | turn the sound off
unmute: unmute | sound back | sound on | turn the sound on | turn on the sound | bring back the sound | restore the sound
play: play | pause | resume | hold | unpause | continue | carry on
new: new | fresh | another | blank | empty | extra | one more
reopen: reopen | restore | bring back | undo close | undo closing | open again | accidentally closed | just closed | closed by mistake | get back
scroll: scroll | move down | move up | go down | go up
page: page | screen | screenful
top: top | beginning | very start | start of | first line
bottom: bottom | end | very end | last line
copy: copy | duplicate | clipboard
paste: paste | insert | drop it in | put it here
cut: cut
undo: undo | take back | revert | take that back | go back a step
redo: redo | do again | redo that | put it back
select: select | highlight | mark
all: all | everything | whole | entire
save: save | store | keep
find: find | search | search for | look for | locate | look up | where is
back: back | backward | backwards | previous page | return
forward: forward | forwards | next page | ahead
refresh: refresh | reload | update | load again | refetch
screenshot: screenshot | screen shot | screen capture | capture | snapshot | grab the screen | picture of the screen | picture of my screen | print screen | screengrab
time: time | clock | o'clock | hour
date: date | day | today | day of the week
stop: stop | cancel | never mind | shut up | quiet | enough | halt | abort | forget it | hush | silence please
repeat: repeat | again | once more | one more time | say that again | come again
dictate: type | type out | dictate | write down | jot down | note down | put down | input | key in | enter | spell out | enter text | write out
press: press | hit | push | tap | strike
newline: new line | line break | newline | next line
""")
_EN_OBJECTS = _table("""
browser: browser | web | internet | chrome | firefox | chromium | web browser | online | the net | websites | surf
terminal: terminal | console | command line | shell | prompt | bash | xterm | command prompt
files: file manager | files | file explorer | explorer | folder | folders | documents | my files | finder | directory
editor: editor | text editor | notepad | notes | gedit | note | writing app
calculator: calculator | calc | calculate | sums | math | maths | arithmetic
tab: tab | tabs
window: window | windows | app | application | program
volume: volume | sound | audio | speaker | speakers | loud | noise | music volume
track: track | song | tune | music | video | playback | media | movie | podcast | episode
text: text | words | sentence
""")
_EN_OPPOSITES = [
    ("open", "close"),
    ("minimize", "maximize"),
    ("next", "previous"),
    ("up", "down"),
    ("mute", "unmute"),
    ("top", "bottom"),
    ("undo", "redo"),
    ("back", "forward"),
    ("copy", "paste"),
    ("cut", "paste"),
    ("new", "close"),
    ("new", "reopen"),
    ("next", "back"),
    ("previous", "forward"),
]
# Forms too common to mean anything alone ("what's up", "pick me up", "the one before").
_EN_WEAK = frozenset(
    _forms(
        "all | before | would like | change | day | down | end | enter | expand | go | hold | hour | i want | keep | last | lose | mark | more | move | need | note | over | page | return | run | screen | start | up | update | whole"
    )
)
# Words that turn a command into its refusal.
_EN_NEGATION = _forms(
    "not | never | don't | dont | do not | without | stop me | nor | neither | no need | avoid | leave | keep it | let it | instead of"
)
# Openings of remarks and questions about the past or the world, not requests ("_" stands for a space).
_EN_REMARK_OPENINGS = _forms(
    "i opened | i closed | did you | did i | have you | has the | was the | were the | is the | are the | why | how come | who | when did | what was | what is the meaning | i wonder | i think | i thought | i hate | i love | i like | my_ | the_ | yesterday | last night | remember when | i was | we were | they | he_ | she_"
)

_RU_ACTIONS = _table("""
open: откр* | запус* | включи | включить | вруб* | подними | покажи | дай | нуж* | хочу | стартуй | загрузи
close: закр* | убери | убрать | выключи окно | прибей | убей | выйди | выход | избавься | кончай с | смахни | удали
minimize: сверн* | спрячь | скрой | убери с глаз | уменьши окно
maximize: разверн* | на весь экран | во весь экран | полноэкран* | увеличь окно | раскрой
switch: переключ* | смени | сменить | перейди | перейти | поменяй
next: следующ* | дальше | вперед | вперёд | другую | другое | другой
previous: предыдущ* | прошл* | прежн* | назад на | обратно на | предпослед*
up: громче | погромче | прибав* | увелич* | подними звук | поднять звук | тихо слишком | слишком тихо | не слышно | плохо слышно | вверх | выше | добавь | усиль
down: тише | потише | убав* | уменьш* | слишком громко | громко слишком | сделай поменьше | вниз | ниже | снизь | понизь | приглуши
mute: выключи звук | выключить звук | без звука | отключи звук | заглуши | убери звук | беззвуч* | звук выкл* | вырубй звук | выруби звук
unmute: включи звук | верни звук | включить звук | звук обратно | звук включ*
play: пауз* | играй | продолж* | воспроизв* | останови музыку | поставь на паузу | сними с паузы | запусти музыку
new: нов* | ещё одн* | еще одн* | пуст* | чист*
reopen: верни закрыт* | восстанови | открой снова | открой заново | верни вкладку
scroll: прокрут* | листай | пролист* | промотай | мотай | крути
page: страниц* | экран
copy: скопир* | копир* | копию
paste: вставь | вставить | вставка
cut: вырежи | вырезать
undo: отмени | отменить | верни как было | откати
redo: повтори действие | верни | вернуть
select: выдели | выделить | отметь
all: все | всё | весь | целиком
save: сохран* | запиши файл
back: назад | обратно | вернись
forward: вперед | вперёд
refresh: обнов* | перезагрузи | перезагрузить
screenshot: скриншот* | снимок экрана | сними экран | скрин | скрином | фото экрана | снимок
time: час | времени | время | который час
date: число | дата | дату | день | сегодня
stop: стоп | хватит | отмена | замолчи | тихо | прекрати | довольно | остановись | забудь
repeat: повтори | еще раз | ещё раз | снова
dictate: напечатай | набери | введи | запиши | впиши | печатай | вбей
press: нажми | жми | кликни клавишу | тыкни
""")
_RU_OBJECTS = _table("""
browser: браузер* | интернет* | хром* | файрфокс* | сайт* | веб*
terminal: терминал* | консол* | командн* | шелл
files: файлов* | файлы | проводник* | папк* | документ*
editor: редактор* | блокнот* | заметк*
calculator: калькулятор* | посчитать | считалк*
tab: вкладк* | таб*
window: окн* | окош* | приложени* | программ*
volume: звук* | громкост* | аудио
track: трек* | песн* | музык* | композици* | видео | ролик*
text: текст* | слова
""")
_RU_OPPOSITES = _EN_OPPOSITES
_RU_WEAK = frozenset(
    _forms("вверх | весь | вниз | все | всё | выше | дай | день | ниже | нуж* | сегодня | снова | хочу | экран")
)
_RU_NEGATION = _forms("не | нет | никогда | нельзя | без | ни | не надо | не нужно | оставь | пусть")
_RU_REMARK_OPENINGS = _forms(
    "я открыл | я закрыл | ты открыл | ты закрыл | почему | зачем | кто | когда | вчера | мой_ | моя_ | мои_ | моё_ | мое_ | я думаю | я люблю | я ненавижу | в чем смысл | в чём смысл | был | была | было | были"
)


@dataclass(frozen=True)
class Lexicon:
    """The senses of one language."""

    actions: dict[str, tuple[str, ...]]
    objects: dict[str, tuple[str, ...]]
    opposites: dict[str, frozenset[str]]
    negation: tuple[str, ...]
    remark_openings: tuple[str, ...]
    weak: frozenset[str] = frozenset()  # forms that mean something only beside another ("up", "down")

    @cached_property
    def _forms_by_length(self) -> list[list[tuple[str, str]]]:
        """Forms grouped by their number of words, longest first."""
        groups: dict[int, list[tuple[str, str]]] = {}
        for table in (self.actions, self.objects):
            for sense, forms in table.items():
                for form in forms:
                    groups.setdefault(len(form.split()), []).append((sense, form))
        return [groups[n] for n in sorted(groups, reverse=True)]

    def senses(self, tokens: Sequence[str], *, alone: bool = False) -> set[str]:
        """The senses named in a normalized utterance; a phrase's words count only for the phrase.

        ("jot down" is *dictate*, not *down*; "too quiet" is *up*, not *stop*.) Weak forms ("up",
        "day") count only beside a strong one, unless `alone` (a rule's own wording, "page up").
        """
        masked = list(tokens)
        found: set[str] = set()
        strong = False
        for group in self._forms_by_length:
            before = list(masked)
            for sense, form in group:
                if _mask(masked, form, before):
                    found.add(sense)
                    strong = strong or form not in self.weak
        return found if strong or alone else set()

    def action_senses(self, senses: Iterable[str]) -> set[str]:
        """The senses among `senses` that name what to do."""
        return {s for s in senses if s in self.actions}

    def negated(self, tokens: Sequence[str]) -> bool:
        """True when the words refuse or deny rather than ask ("can not hear" asks, "do not close" refuses)."""
        masked = list(tokens)
        for table in (self.actions, self.objects):
            for forms in table.values():
                for form in forms:
                    if " " in form:
                        _mask(masked, form)
        return any(has_form(masked, form) for form in self.negation)

    def is_remark(self, text: str) -> bool:
        """True for a remark or question about something rather than a request."""
        padded = text + " "
        return any(padded.startswith(opening) for opening in self.remark_openings)

    def conflicts(self, heard: set[str], rule: set[str]) -> bool:
        """True when the utterance asks for the opposite of something the rule does."""
        return any(self.opposites.get(s, frozenset()) & heard and s not in heard for s in rule)


def has_form(tokens: Sequence[str], form: str) -> bool:
    """True when the words of `form` stand together anywhere in `tokens` (a `*` word is a stem)."""
    words = form.split()
    return any(opens_with(tokens[i:], form) for i in range(len(tokens) - len(words) + 1))


def opens_with(tokens: Sequence[str], form: str) -> bool:
    """True when `tokens` begin with the words of `form`."""
    words = form.split()
    return len(tokens) >= len(words) and all(_word_matches(tokens[k], w) for k, w in enumerate(words))


_PARTICLES = frozenset({"up", "down", "away", "off", "on", "out", "back"})
_PARTICLE_GAP = 2  # words allowed between a verb and its particle ("turn the volume up")


def _mask(tokens: list[str], form: str, read: Sequence[str] | None = None) -> bool:
    """Blank out every occurrence of `form` in `tokens` (looked for in `read`, default `tokens`).

    A two-word verb with a particle also matches with a few words between ("tone it down").
    """
    read = tokens if read is None else read
    words = form.split()
    n = len(words)
    hit = False
    for i in range(len(read) - n + 1):
        if all(_word_matches(read[i + k], w) for k, w in enumerate(words)):
            tokens[i : i + n] = ["_"] * n
            hit = True
    if not hit and n == 2 and words[1] in _PARTICLES:
        for i, token in enumerate(read):
            if _word_matches(token, words[0]):
                for j in range(i + 2, min(i + 2 + _PARTICLE_GAP, len(read))):
                    if read[j] == words[1]:
                        tokens[i] = tokens[j] = "_"
                        hit = True
                        break
    return hit


def _word_matches(token: str, form: str) -> bool:
    if form.endswith("*"):
        return token.startswith(form[:-1])
    return token == form or token == form.replace("'", "")


def _opposites(pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a, b in pairs:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in out.items()}


LEXICONS = {
    "en": Lexicon(_EN_ACTIONS, _EN_OBJECTS, _opposites(_EN_OPPOSITES), _EN_NEGATION, _EN_REMARK_OPENINGS, _EN_WEAK),
    "ru": Lexicon(_RU_ACTIONS, _RU_OBJECTS, _opposites(_RU_OPPOSITES), _RU_NEGATION, _RU_REMARK_OPENINGS, _RU_WEAK),
}
