"""What words mean for matching by meaning: senses per language, their opposites, negation.

A *sense* is a small set of words that ask for the same thing ("open", "launch", "fire up").
Rules and utterances are both read as sets of senses; a match by meaning needs the utterance to
share a sense that names the action with the rule and never to ask for the opposite of one of the
rule's senses ("louder" is never "volume down"). Forms are normalized words (lower case, numbers as
digits); several words are a phrase; a form ending in `*` is a stem (Russian endings vary).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cached_property, lru_cache

from loki.brain import russian
from loki.profiles.normalize import normalize
from loki.words import has_cyrillic


def _forms(text: str) -> tuple[str, ...]:
    """'open | one more | my_ | прокрут* страниц*' -> ("open", "1 more", "my ", "прокрут* страниц*"), read as
    utterances are (a trailing '_' keeps a word whole; a '*' ends a stem, in any word of a phrase)."""
    out = []
    for form in (f.strip() for f in text.split("|")):
        if not form:
            continue
        suffix = " " if form.endswith("_") else ""
        words = normalize(form.replace("*", "").rstrip("_"), strip_fillers=False).tokens
        stems = [w.endswith("*") for w in form.rstrip("_").split()]
        if len(stems) == len(words):
            words = tuple(w + "*" * stem for w, stem in zip(words, stems, strict=True))
        elif stems[-1]:
            words = (*words[:-1], words[-1] + "*")
        out.append(" ".join(words) + suffix)
    return tuple(dict.fromkeys(out))


def _table(text: str) -> dict[str, tuple[str, ...]]:
    """One sense a line: 'open: open | launch | fire up'."""
    table = {}
    for line in text.strip().splitlines():
        sense, _, forms = line.partition(":")
        table[sense.strip()] = _forms(forms)
    return table


def _with_polite(table: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Russian imperatives also said to «вы»: «верни» -> «верните», «вставь» -> «вставьте» (stems match already)."""

    def polite(form: str) -> str:
        verb, _, rest = form.partition(" ")
        return f"{verb}те {rest}".strip() if verb.endswith(("и", "й", "ь")) and len(verb) > 3 else form

    return {
        sense: forms if sense in _NOT_POLITE else tuple(dict.fromkeys([*forms, *map(polite, forms)]))
        for sense, forms in table.items()
    }


_NOT_POLITE = frozenset({"dictate", "undo", "redo", "repeat"})
"""Said to «вы», these are mostly said to people (a phone menu's «наберите», a shop's «верните деньги»)."""


# Senses that name what to do (an utterance needs one of these to act), then what to act on. The
# "idiom" sense names sayings that use command words for something else ("cut to the chase"): no
# rule has it, so they never act.
_EN_ACTIONS = _table("""
open: open | launch | start | start up | run | would like | fire up | rustle up | rustle me up | whip up | boot up | bring up | pull up | load up | get me | give me | gimme | show me | i need | i want | need | spin up | kick off | going | running | browse | look through | spawn
close: close | shut | shut down | get rid of | kill | nuke | exit | quit | dismiss | ditch | lose | x out | throw away | remove | close out | trash
minimize: minimize | minimise | hide | shrink | tuck away | put away | send to the taskbar | put it away | out of the way | out of my way | out of sight | shrink it down | shrink this down | shrink that down | shrink down
maximize: maximize | maximise | max out | max it | max size | maximum size | to max | to the max | to the maximum | more big | make it large | larger | big as possible | large as possible | as big as it goes | full screen | fullscreen | enlarge | make it big | make it bigger | bigger | big | fill the screen | fill the whole screen | whole screen | full size | expand | max this | max that | max the
switch: switch | change | swap | flip | cycle | toggle | focus | focus on | go to | take me to | bring me to | jump to | head to | move to | skip to | over to | go over to | head over to | hop over to | switch over to | back to | back over to | go back to | take me back to | get back to | return to | all the way to | all the way down to | all the way up to | already open | already opened | already running | to the front | to the foreground | back there | go back there | take me back there | go right to | go straight to | i had open | i had opened | i left open | i have open | i have got open | still open | was open | is open | back into | jump into | hop into | jump back into | hop back into | get back into | alt tab
next: next | skip | following | 1 after | forward 1 | on the right | to the right | over | other | skip ahead | skip forward
previous: previous | prev | prior | last | 1 before | preceding | back 1 | earlier | on the left | to the left | before | skip back
up: up | move up | go up | louder | raise | increase | boost | crank | pump | bump | higher | a bit quiet | bit quiet | quite quiet | awfully quiet | so quiet | very quiet | really quiet | more volume | too quiet | too soft | turn it up | cannot hear | can not hear | barely hear | hardly hear | turn up | bump up | more loud | jump up | roll up | further up | go back up | nudge up
down: down | move down | go down | quieter | softer | lower | decrease | reduce | less volume | too loud | a bit loud | bit loud | quite loud | so loud | very loud | turn down | tone down | turn it down | bring down | deafening | hurts my ears | drop | jump down | roll down | further down | go back down | nudge down
mute: mute | silence | silent | kill the sound | sound off | no sound | cut the sound | turn off the sound | turn the sound off | off the sound | off the volume
unmute: unmute | off mute | back on | sound back | sound on | turn the sound on | turn on the sound | bring back the sound | restore the sound | on the sound | on the volume | on sound
play: play | pause | resume | hold | unpause | continue | carry on | music back on | song back on | video back on
new: new | fresh | another | blank | empty | extra | one more
reopen: reopen | restore | bring back | undo close | undo closing | open again | accidentally closed | just closed | closed by mistake | get back | i closed | that i closed | you closed
scroll: scroll | roll
move: move down | move up | go down | go up | jump down | jump up | roll down | roll up | further down | further up | go back up | go back down | nudge up | nudge down
page: page | screen | screenful | site | website | web page | webpage
pageful: a page | 1 page | a full page | 1 full page | a whole page | a screen | 1 screen | a screenful | 1 whole page | a whole screen | 1 whole screen | 1 full screen | a full screen
top: top | top of | beginning | very start | start of | first line
bottom: bottom | bottom of | end | end of | very end | last line
copy: copy | duplicate | clipboard | yank | ctrl c | control c
paste: paste | insert | drop it in | put it here | ctrl v | control v
cut: cut
undo: undo | undone | ctrl z | control z | take back | revert | take that back | go back a step | reverse | last action | last change | last edit | last step | back how it was | back the way it was | how it was | the way it was
redo: redo | do again | redo that | put it back | put back
select: select | highlight | mark
all: all | everything | whole | entire | the lot
save: save | store | keep
find: find | search | search for | look for | locate | look up | where is | grep | ctrl f | control f
back: back | take me back | backward | backwards | previous page | return | back 1 page | back a page | go back to the page | go back to the previous page | go back to the last page | go back to the site | go back to the website | page before | page i was on | page i was just on | page i was on before | page i was looking at | pop back | nip back
forward: forward | forwards | next page | ahead | forward 1 page | forward a page
refresh: refresh | reload | f5 | update | load again | refetch | load it again | load that again
screenshot: screenshot | screenie | screen shot | screencap | screen cap | snap the screen | snap my screen | snap a picture of | screen capture | capture | snapshot | grab the screen | picture of the screen | picture of my screen | print screen | screengrab | snap a pic | pic of the screen | picture of the screen | snap the screen
time: what time | the time | time is it | time now | current time | clock | o'clock | what hour | how late is it | how late | the hour
date: date | day | today | day of the week | day of the month | what day | which day
lost: where did | where has | where have | went missing | gone missing | go missing | disappeared | vanished
off: off | turn off | switch off | shut off | turn it off | switch it off
stop: stop | cancel | never mind | shut up | quiet | enough | halt | abort | forget it | hush | silence please | stop talking | stop speaking | stop reading | cease | cease speaking | cease talking
repeat: repeat | again | once more | one more time | say that again | come again
dictate: type | type in | type out | dictate | write down | jot down | note down | put down | input | key in | enter | spell out | enter text | write out | write
press: press | hit | push | tap | strike
newline: new line | line break | newline | next line
idiom: smell the roses | pray | slide | slides | copy what i do | copy me | quiet voices | inside voices | indoor voices | cut the engine | cut the engines | cut the motor | breathe in | breathe out | deep breath | on repeat | on loop | save the date | refresh my memory | refresh your memory | play it by ear | back in a minute | be right back | back in time | cut to the chase | back in my day | back in the day | cut it out | close enough | close call | close to | save time | save money | time after time | who cares | what difference does it make | that is the question
""")
_EN_OBJECTS = _table("""
browser: browser | web | internet | chrome | firefox | chromium | edge | safari | opera | brave | vivaldi | mozilla | google chrome | web browser | online | the net | websites | surf | little globe | the globe | look stuff up | look things up
terminal: terminal | console | command line | shell | prompt | bash | xterm | konsole | gnome terminal | terminator | kitty | alacritty | iterm | command prompt | black box | black window | type commands | computer commands
files: file manager | files | file explorer | explorer | folder | folders | documents | my files | finder | directory | nautilus | thunar | dolphin | nemo | pcmanfm
editor: editor | text editor | notepad | notes | gedit | note | kate | mousepad | textedit | sublime | text pad | writing app | writing window | writing program | text editing | editing program | word processor | typing program | typing app | write notes | writing letters
calculator: calculator | calc | kcalc | galculator | calculate | sums | math | maths | arithmetic | number thing | thing with the numbers | adding machine
tab: tab | tabs
window: window | windows | app | application | program
windows: all windows | all the windows | all these windows | all of the windows | all my windows | all open windows | every window | all of my windows
tabs: all tabs | all the tabs | all the browser tabs | all browser tabs | all my browser tabs | all these tabs | all my tabs | all of the tabs | all other tabs | all the other tabs | every tab | every other tab | all open tabs
volume: volume | vol | sound | audio | speaker | speakers | music volume | music
track: track | song | tune | music | video | playback | media | movie | podcast | episode
text: text | words | sentence | paragraph | paragraphs | selection | passage
desktop: desktop | home screen
stuck: stuck | frozen | froze | hanging | hung | not loading | will not load | does not load | stopped loading | not responding | not updating | not refreshing | stopped updating | not moving
aside: lost track | lose track | losing track | keep track | kept track | keeping track
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
        "all | back on | before | big | bump | drop | going | running | would like | change | day | down | end | enter | expand | go | hold | hour | i want | keep | last | lose | mark | more | move | need | note | other | over | page | return | run | screen | start | up | update | whole"
    )
)
# Senses that read differently together: "go back a track" is the previous track, not the browser's
# back; "play the next song" skips rather than plays; "scroll the page down" scrolls (the page is what
# it scrolls) while "go up a page" may be a page up. (senses all heard, senses they add, senses they
# take away, in this order)
_COMBINATIONS: tuple[tuple[set[str], set[str], set[str]], ...] = (
    ({"back", "track"}, {"previous"}, {"back"}),
    ({"forward", "track"}, {"next"}, {"forward"}),
    ({"open", "back", "tab"}, {"reopen"}, {"open", "back"}),  # «вкладку закрыл, открой её обратно»
    ({"back", "tab"}, {"previous"}, {"back"}),
    ({"forward", "tab"}, {"next"}, {"forward"}),
    ({"up", "mute"}, {"unmute"}, {"up", "mute"}),  # "i can't hear anything, it's on mute"
    ({"stuck", "page"}, {"refresh"}, {"stuck"}),  # "this page is stuck", «страница зависла»: reload it
    # "where did my calculator go, bring it back up", «куда пропал терминал, верни его»: it is switched to
    ({"lost", "open"}, {"switch"}, {"lost", "open", "reopen"}),
    ({"lost", "redo"}, {"switch"}, {"lost", "redo"}),
    ({"off", "track"}, {"play"}, {"off", "volume"}),  # "turn off the music", «выруби музон»: it pauses
    ({"off", "volume"}, {"mute"}, {"off", "volume"}),  # «звук выруби», "switch the speakers off"
    ({"stop", "track"}, {"play"}, {"stop", "volume"}),  # "stop the music" is no "stop talking"
    ({"play", "next"}, set(), {"play"}),
    ({"play", "previous"}, set(), {"play"}),
    ({"reopen", "close"}, set(), {"close"}),  # "bring back the tab i closed"
    ({"repeat", "undo"}, {"redo"}, {"repeat", "undo"}),  # «повтори то, что отменил»
    ({"redo", "undo"}, set(), {"undo"}),  # «верни то, что отменил»
    ({"redo", "back", "page"}, set(), {"redo"}),  # «верни меня назад, на прошлую страничку»
    ({"redo", "tab"}, {"reopen"}, {"redo"}),  # «вкладку закрыла, верни её»: the tab comes back
    ({"redo", "volume"}, {"unmute"}, {"redo", "volume"}),  # «звук верни»
    ({"refresh", "tab"}, set(), {"tab"}),  # "reload the tab", «перезагрузи вкладку»: the page in it
    ({"mute", "volume"}, set(), {"volume"}),  # «замьють звук», "mute the audio": the sound is what is muted
    ({"unmute", "volume"}, set(), {"volume"}),
    ({"switch", "open"}, set(), {"open"}),  # "switch to the terminal i have open"
    ({"pageful", "up"}, {"page"}, {"pageful", "scroll", "move"}),  # "go up a page" is a page up
    ({"pageful", "down"}, {"page"}, {"pageful", "scroll", "move"}),
    ({"pageful"}, {"page"}, {"pageful", "move"}),  # "scroll a page" still scrolls
    ({"move"}, {"scroll"}, {"move"}),
    ({"scroll", "page"}, set(), {"page"}),  # "move the page down a little" scrolls
    ({"down", "bottom"}, set(), {"down"}),  # "take me right down to the bottom of the page"
    ({"up", "top"}, set(), {"up"}),  # "back up to the very top"
    ({"files", "desktop"}, set(), {"desktop"}),  # "open the desktop folder" is the file manager's
    ({"open", "desktop"}, {"minimize", "all"}, {"open"}),  # "show me the desktop" hides every window
    ({"switch", "desktop"}, {"minimize", "all"}, {"switch"}),  # "go to the desktop"
    ({"bottom", "page"}, {"scroll"}, set()),  # "right to the bottom of the page"
    ({"top", "page"}, {"scroll"}, set()),
    ({"close", "page"}, {"tab"}, {"page"}),  # "close this page" closes the browser's tab
    ({"close", "windows"}, {"minimize"}, {"close"}),  # «убери все окна с экрана»: clear the screen
    ({"close", "down", "window"}, {"minimize"}, {"close", "down"}),  # «убери окошко вниз»: to the taskbar
    ({"close", "tabs"}, set(), {"close", "next", "tab"}),  # "close all (other) tabs" is no "close the tab"
    ({"open", "close"}, set(), {"open"}),  # "i want close this page": "i want" asks, "close" says what
    # «вернись обратно в браузер»: back to an app is a switch to it, not the browser's back
    *(({"back", "switch", app}, set(), {"back"}) for app in ("browser", "terminal", "files", "editor", "calculator")),
)
# Words that carry no request of their own: a sentence whose other words the senses do not explain
# is about something else ("next week will be hard" names no track).
_EN_FUNCTION = frozenset(
    """a about again all am an and any anything are as at be been but by can could do does for from get
    go got have here i if in into is it its it's just let like me more much my now of on one or our out
    please right so some something that the their them then there these this those to too us very want
    was way we what will with would you your bit little tad notch slightly quickly kindly possibly really
    maybe mind make where already yo hey real quick asap notches times okay ok alright well oh sorry yes
    yeah loki computer oops shh shush hmm ugh wow thanks god man lemme gonna wanna gotta ya excuse kind
    bother grateful ever goodness gosh dis dat wat d da pls plz small terribly thing far altogether rather quite cheers bud eh skipper
    awfully wee moment particular current""".split()
)
# Words between a dictation verb and the text itself ("enter the text see you soon").
_EN_TEXT_OPENERS = _forms("the text | the phrase | the sentence | the following | this for me")
# Words that turn a command into its refusal.
_EN_NEGATION = _forms(
    "not | never | no idea how | don't | dont | do not | didn't | doesn't | wouldn't | shouldn't | couldn't | mustn't | there is no | without | stop me | nor | neither | no need | avoid | leave | keep it | let it | instead of"
)
# Openings of remarks and questions about the past or the world, not requests ("_" stands for a space).
_EN_REMARK_OPENINGS = _forms(
    "like i would | as if i would | can someone | could someone | can somebody | could somebody | can anyone | could anyone | is not the | is not it | is not this | is not that | are not the | are not you | was not the | were not the | aren't | wasn't | weren't | do you want me to | would you like me to | want me to | like me to | should i | shall i | would it help | you cannot | you can not | i'm going to | i am going to | i'm gonna | i am gonna | i'll | i will | we'll | we will | i opened | i closed | did you | did i | have you | has the | was the | were the | is the | are the | why | how come | who | when did | what was | what is the meaning | i wonder | i think | i thought | i hate | i love | i like | my_ | the_ | yesterday | last night | remember when | i was | we were | they | he_ | she_ | i forgot | i took | i made | i had | i did | i saw | i got | i have a | i have an | i have got a | i have got an | i have like | i have so many | i have too many | i got a | i got an | how do you_ | how do i_ | how to_ | is it | is this | what time is the_ | what time is my_ | what time is our_ | what do you mean | what time does | what time do | what time did | what time will | when does | when do | when will | when is"
)

_RU_ACTIONS = _with_polite(
    _table("""
open: откр* | запус* | вызови | включи | включить | вруб* | подними | покажи | дай | нуж* | хочу | стартуй | загрузи | open | launch
close: закр* | убери | убрать | кильни | выключи окно | прибей | убей | выйди | выход | избавься | кончай с | смахни | удали | клозни | клоузни | close
minimize: сверн* | минимайз* | спрячь | скрой | убери с глаз | уменьши окно | minimize
maximize: разверн* | максимайз* | развёртывани* | развертывани* | на весь экран | во весь экран | полноэкран* | увеличь окно | раскрой | maximize
switch: переключ* | свитчн* | свитч* | смени | сменить | зафокус* | фокус на | перейди | перейти | переход в | поменяй | вернись в | вернись к | вернись на | верни меня в | верни меня к | вернитесь в | вернитесь к | вернитесь на | вернуться в | вернуться к | уже откр* | обратно в | обратно к | назад в | назад к | прыгни в | прыгни на | на передний план | открыто было | было открыто | открыт | открыта | открытый | открытую | открытое | го в | го на | открыт был | был открыт | открыта была | была открыта | ещё открыт* | еще открыт* | алт таб* | альт таб* | alt tab
next: следующ* | некст | скипни | скипай | скипнуть | скип | дальше | вперед | вперёд | другую | другое | другой | правее | справа | направо | next | skip | след
previous: предыдущ* | прошл* | прежн* | назад на | обратно на | предпослед* | левее | слева | налево | до этой | до этого | перед этой | перед этим | previous
up: громче | погромче | плюс | прибав* | увелич* | подними звук | поднять звук | тихо слишком | слишком тихо | что то тихо | че то тихо | как то тихо | очень тихо | тихо очень | тихо как то | не слышно | плохо слышно | вверх | наверх | выше | добавь | усиль | повыше | ап
down: тише | потише | минус | даун | убав* | уменьш* | слишком громко | громко слишком | сделай поменьше | вниз | ниже | снизь | понизь | приглуши | пониже
mute: замьют* | замуть | мьют | выключи звук | выключить звук | без звука | отключи звук | заглуши | убери звук | беззвуч* | звук выкл* | звук выруб* | звук отключи | вырубй звук | выруби звук | выруб* звук | mute | замью*
unmute: включи звук | верни звук | включить звук | звук обратно | звук включ* | анмьют* | размьют* | размуть | unmute
play: пауз* | играй дальше | дальше играй | включи дальше | включай дальше | включи музыку дальше | включай музыку дальше | музыку дальше | музыка дальше | включи ее дальше | включи его дальше | играй | продолж* | воспроизв* | останови музыку | поставь на паузу | сними с паузы | запусти музыку | play | pause | остановить музыку | останови музыку
new: нов* | ещё одн* | еще одн* | пуст* | чист*
reopen: верни закрыт* | закрытую | закрытые | закрытый | закрытое | ресторн* | восстанови | восстановлени* | открой снова | открой заново | верни вкладку
scroll: прокрут* | скрол* | листай | пролист* | промотай | отмотай | домотай | мотай | мотни | крути | покрути | крутани | крутни | полист* | листни | листан* | scroll
page: страниц* | страничк* | экран | пейдж
move: подвинь | сдвинь | подвигай | двигай | перемести
pageful: на страницу | на целую страницу | на одну страницу | целую страницу | на экран | на целый экран
top: начал* | самый верх | самое начало | наверх страницы
bottom: конец | конца | самый низ | самый конец | низ страницы
copy: скопир* | копиру* | копирн* | копировать | копирован* | копию | copy
paste: вставь* | вставить | вставка | вставля* | пейстни | пастни | пэйстни | paste
cut: вырежи* | вырежь* | вырез*
undo: undo | андо | отмени | отмените | отменить | верни как было | откати | отменил | отменила | отмененное | отмененный
redo: redo | редо | повтори действие | повторите действие | повтори отмен* | повторите отмен* | верни | верните | вернуть
select: выдели | выделить | отметь | селектн* | селект | выделяй | select
all: все | всё | весь | целиком | олл
save: сохран* | запиши файл | сейвни | сейвани | засейв* | save
back: назад | обратно | вернись | предыдущ* страниц* | прошл* страниц* | предыдущ* страничк* | прошл* страничк*
forward: вперед | вперёд | следующ* страниц* | на следующую страницу
refresh: обнов* | рефреш* | ребут* | перезагрузи | перезагрузить | refresh | reload
screenshot: скриншот* | сфоткай экран | сфотографируй экран | снимок экрана | сними экран | скрин | скрином | фото экрана | снимок | скрин* | заскрин* | screenshot
time: который час | который сейчас час | который нынче час | который теперь час | времени | время | на часах
date: число | дата | дату | день | сегодня | день недели
lost: где там | куда делся | куда делась | куда делось | куда пропал | куда пропала | куда подевался | куда подевалась
off: выключи | выключай | выключить | выруби | вырубай | вырубить | отключи | отключай
stop: стоп | отставить | хватит | отмена | отмени команду | замолчи | помолчи | замолкни | тихо | прекрати | довольно | остановись | забудь | отбой | помолчи* | замолчи*
repeat: повтори | еще раз | ещё раз | снова
dictate: напечатай | напечатайте | набери | наберите | введи | введите | запиши | впиши | печатай | вбей | напиши | напишите
press: нажми | жми | кликни клавишу | тыкни | нажать | жмякни | жмакни | ткни
newline: новая строка | новую строку | новой строки | новой строчки | новую строчку | новая строчка
idiom: тише едешь | тише ты | тихо ты | потише ты | время назад | время вспять | мне место | потише на поворотах | время летит | время то как летит | как летит время | время то летит | сохрани спокойствие | сохраняй спокойствие | вставь слово | вставить слово | закрой рот | закрыть глаза | какая разница | какая к черту разница | вот в чем вопрос
find: найди | поищи | найдём | найдем | поищем | найти | отыщи | поиск | зафайнд* | файнд*
""")
)
_RU_OBJECTS = _table("""
browser: браузер* | интернет* | хром* | файрфокс* | фаерфокс* | фаерфакс* | мозилл* | яндекс браузер* | оперу | опера | эдж | сайт* | веб* | где сайты | browser | chrome | firefox
terminal: терминал* | консол* | командн* | шелл | баш | черное окно | чёрное окно | команды пишут | terminal | console
files: файлов* | файловый менеджер | файл менеджер* | файлы | проводник* | проводнич* | наутилус* | папк* | папок | папоч* | документ*
editor: редактор* | эдитор* | блокнот* | заметк* | заметок | пишущую машинку | пишущая машинка | печатную машинку
calculator: калькулятор* | арифмометр* | счёты | счеты | посчитать | считалк* | штуку с цифрами | штука с цифрами | штуковину с цифрами
tab: вкладк* | вкладок | таб* | вкладоч* | tab
window: окн* | окон | окош* | приложени* | программ* | прогу | прога | проги | прогой | window
windows: все окна | всё окна | все эти окна | все открытые окна | все окошки | всех окон
tabs: все вкладки | все остальные вкладки | все эти вкладки | все открытые вкладки | всех вкладок | все табы
volume: звук* | громкост* | аудио | музык* | музычк* | колонк* | динамик* | volume | sound
track: трек* | песн* | песен | музык* | музычк* | композици* | видео | ролик* | песенк* | музон* | видос* | track | song | video
text: текст* | слова | абзац* | фрагмент* | выделенное
desktop: рабоч* стол*
stuck: завис | зависла | зависло | зависли | не грузится | не грузит | не загружается | не прогружается | не обновляется | не грузятся | не загружаются | не обновляются | застыла | застыло | застыл
""")
_RU_OPPOSITES = _EN_OPPOSITES
_RU_WEAK = frozenset(
    _forms(
        "вверх | наверх | весь | вниз | все | всё | выше | дай | даун | день | минус | ниже | нуж* | плюс | предыдущ* | сегодня | следующ* | снова | хочу | экран"
    )
)
_RU_FUNCTION = frozenset(
    """а и в во на с со к ко у о об от до по за из под над для без при про же ли бы вот это этот эта эту
    эти тот та ту то мне меня мой моя мою мои твой ты я мы вы он она оно они его её ее их нам нас вам вас
    пожалуйста давай давайте ну так как там тут здесь сейчас нынче уже еще ещё чуть немного раз все всё
    можно можешь сделай сделайте сделать иди чуть-чуть чуток ладно окей слушай эй локи компьютер да короче
    подскажи скажи будь добр добра будьте добры милок ой ох ах блин
    последнее последний последнюю последние итак кстати хорошо отлично сначала потом ка совсем чет чот шо
    внучек внучок внученька голубчик милок милый милая дорогой дорогая родной родная сынок доченька
    деточка любезен любезна подскажешь немножко немножечко чуточку штука штуку штуковину ваще вообще плиз""".split()
)
_RU_TEXT_OPENERS = _forms("текст | следующее | следующий текст")
_RU_NEGATION = _forms("не | нет | никогда | нельзя | без | ни | не надо | не нужно | оставь | пусть")
_RU_REMARK_OPENINGS = _forms(
    "вот бы | если бы | что значит | что такое | шо значит | шо такое | что означает | что делает | я открыл | я закрыл | ты открыл | ты закрыл | почему | зачем | кто | когда | а как | как сделать | как делать | как тут сделать | как мне сделать | тут пишут | тут написано | здесь написано | написано | вчера | мой_ | моя_ | мои_ | моё_ | мое_ | я думаю | я люблю | я ненавижу | у меня есть | у меня новый | у меня новая | у меня новое | в чем смысл | в чём смысл | был | была | было | были"
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
    function_words: frozenset[str] = frozenset()
    text_openers: tuple[str, ...] = ()
    past_endings: tuple[str, ...] = ()  # a verb ending so tells of the past (Russian «закрыл», «сохраняла»)
    past_words: frozenset[str] = frozenset()  # words that put a sentence in the past («был»)
    english_past: bool = False  # "i already opened the browser": an -ed verb tells of the past
    question_particle: str = ""  # after a verb, it makes a question («хватит ли»)
    deferred: tuple[str, ...] = ()  # words that put a request off till later
    deferred_alone: tuple[str, ...] = ()  # words that do so only in a request for one thing («потом» is also "then")
    corrections: tuple[str, ...] = ()  # words that take back what came before ("no sorry", «ой нет»)
    composing: tuple[str, ...] = ()  # a dictation verb asking for text to be made up ("write a poem"): tier 1's
    sequencing: tuple[str, ...] = ()  # words that join one request to the next ("and then", «потом»)
    places: tuple[str, ...] = ()  # where to find words ("on this page", «на странице»)
    request_openers: tuple[str, ...] = ()  # words that open a request after the scene is set ("could you")
    reporting: tuple[str, ...] = ()  # words that quote someone ("she says", «мама сказала»)
    conditions: tuple[str, ...] = ()  # words that make a scene a condition ("when this song ends")
    find_openers: tuple[str, ...] = ()  # words before what to find ("the word", «слово»)
    light_verbs: frozenset[str] = frozenset()  # verbs that go with any command ("take a screenshot", «сделай»)
    imperative_endings: tuple[str, ...] = ()  # a verb ending so asks («сохрани», «поставь»), unlike «сохраню»
    explaining: tuple[str, ...] = ()  # words that open a reason ("because", «а то»)
    consequences: tuple[str, ...] = ()  # words that open a request after its reason ("so", «так что»)
    ahead: tuple[str, ...] = ()  # words that open what a request must come before ("before", «перед тем как»)
    not_needed: tuple[str, ...] = ()  # negations that explain ("i do not need it", «она не нужна», "not just")
    takings_back: tuple[str, ...] = ()  # words that take a request back before a reason ("no", "actually")
    questions: tuple[str, ...] = ()  # words that open a question ("did", «почему»)
    condition_words: tuple[str, ...] = ()  # words that make what follows a condition only there («как шеф придёт»)
    how_to: tuple[str, ...] = ()  # words that ask how to do something rather than to do it ("how do i")
    tellings: Callable[[Sequence[str]], list[int]] | None = None  # where clauses that tell begin (see tells_from)
    asking: Callable[[str], bool] | None = None  # True for a verb that asks, where the word says so («верни»)
    telling_word: Callable[[str], bool] | None = None  # True for a verb that tells, where the word says so
    name_word: Callable[[str], bool] | None = None  # True for a person's first name («саша», «коля»)
    state_word: Callable[[str], bool] | None = None  # True for a word that tells a state («открыто», «выключен»)
    combinations: tuple[tuple[set[str], set[str], set[str]], ...] = _COMBINATIONS

    @cached_property
    def _forms_by_length(self) -> list[list[tuple[str, str]]]:
        """Forms grouped by their number of words, longest first."""
        groups: dict[int, list[tuple[str, str]]] = {}
        for table in (self.actions, self.objects):
            for sense, forms in table.items():
                for form in forms:
                    groups.setdefault(len(form.split()), []).append((sense, form))
        return [groups[n] for n in sorted(groups, reverse=True)]

    @cached_property
    def _by_first_word(self) -> tuple[dict[str, list[tuple[int, int, str, str]]], list[tuple[int, int, str, str]]]:
        """Forms by the word that opens them, and the forms that open with a stem; each as (-words,
        order, sense, form), so sorting puts longer forms first."""
        exact: dict[str, list[tuple[int, int, str, str]]] = {}
        stems = []
        order = 0
        for group in self._forms_by_length:
            for sense, form in group:
                entry = (-len(form.split()), order, sense, form)
                order += 1
                first = form.split(" ", 1)[0]
                if first.endswith("*"):
                    stems.append(entry)
                    continue
                for word in {first, first.replace("'", "")}:
                    exact.setdefault(word, []).append(entry)
        return exact, stems

    @cached_property
    def _gerund_verbs(self) -> dict[str, str]:
        """-ing words and the one-word verb forms they come from ("closing" -> "close")."""
        return {g: f for forms in self.actions.values() for f in forms if " " not in f for g in _gerunds(f)}

    @cached_property
    def _gerund_phrase_verbs(self) -> dict[str, str]:
        """-ing words and the first words of verb phrases too ("getting" -> "get" of "get rid of")."""
        verbs = {f.split()[0] for forms in self.actions.values() for f in forms}
        return {**{g: f for f in verbs for g in _gerunds(f)}, **self._gerund_verbs}

    def _asked_verb(self, tokens: Sequence[str], i: int) -> str | None:
        """The verb the -ing word at `i` asks for, or None: after "mind" ("would you mind (terribly) getting rid
        of that tab"), or after "keep" that opens the request ("keep playing"; not "keep bringing it up")."""
        token = tokens[i]
        before = tokens[i - 1] if i else ""
        if before in _MIND_ADVERBS and i > 1:
            i, before = i - 1, tokens[i - 2]
        if before == "mind":
            return self._gerund_phrase_verbs.get(token)
        if before == "keep" and (i == 1 or tokens[i - 2] in self.function_words):
            return self._gerund_verbs.get(token)
        return None

    def _read(self, tokens: Sequence[str]) -> tuple[list[str], set[str], bool]:
        """The words left when every form is blanked out, the senses found, and whether one was strong."""
        exact, stems = self._by_first_word
        # "would you mind closing the tab" and "keep playing" ask; elsewhere an -ing word tells ("music keeps
        # pausing", "stop closing my tabs").
        tokens = [self._asked_verb(tokens, i) or t for i, t in enumerate(tokens)]
        entries = {e for t in set(tokens) for e in exact.get(t, ())}
        entries.update(e for e in stems if any(t.startswith(e[3].split(" ", 1)[0][:-1]) for t in tokens))
        masked = list(tokens)
        found: set[str] = set()
        strong = False
        before = masked
        length = 0
        for n, _, sense, form in sorted(entries):
            if n != length:  # a longer form's words are taken before shorter forms are looked for
                before, length = list(masked), n
            if _mask(masked, form, before):
                found.add(sense)
                strong = strong or form not in self.weak
        return masked, found, strong

    def phrase_verbs(self, tokens: Sequence[str]) -> set[str]:
        """The verbs that open the phrases of the senses named ("turn" of "turn off" in "i turned off the
        music"), before senses heard together are read as one ("off" with music is "pause")."""
        found = self._read(tokens)[1]
        return {form.split()[0] for sense in self.action_senses(found) for form in self.actions[sense] if " " in form}

    def senses(self, tokens: Sequence[str], *, alone: bool = False) -> set[str]:
        """The senses named in a normalized utterance; a phrase's words count only for the phrase.

        ("jot down" is *dictate*, not *down*; "too quiet" is *up*, not *stop*.) Weak forms ("up",
        "day") count only beside a strong one, unless `alone` (a rule's own wording, "page up").
        """
        masked, found, strong = self._read(tokens)
        if not (strong or alone):
            return set()
        said = set(tokens)
        if "stuck" in found and _PERSONS & said:
            found.discard("stuck")  # "i'm stuck on this page", «он завис»: a person is, not the page
        plain = not self._left(masked)  # every word said is one of a sense's, or a function word
        if (
            plain
            and {"open", "track"} <= found
            and self.action_senses(found) <= {"open", "back"}  # not «включи музыку погромче»
            and not found & _APPS
            and _TURN_ON & said
        ):
            found = (found - {"open", "back"}) | {"play"}  # "start the music", «включи музыку обратно»: play it
        if "undo" in found and _UNDO_THE_UNDO & set(tokens) and sum(t.startswith("отмен") for t in tokens) > 1:
            found = (found - {"undo"}) | {"redo"}  # «отмени отмену»: the undo is undone
        if {"open", "up"} <= found and not found & self.objects.keys() and _DIRECTIONS_UP & said:
            # «подними чуть-чуть наверх»: the page is moved up, not the sound (but «вруби погромче» is louder)
            found = (found - {"open"}) | {"move"}
        for together, adds, takes in self.combinations:
            if together <= found:
                found = (found | adds) - takes
        if plain and self.action_senses(found) == {"new"} and found & _APPS and not found & {"tab", "tabs"}:
            found = (found - {"new"}) | {"open"}  # "a new terminal", «ещё один терминал»: another one is opened
        if (
            plain
            and len(self.action_senses(found)) == 1
            and found & {"minimize", "maximize"}
            and not found & self.objects.keys()
            and any(has_form(tokens, form) for form in _WINDOW_VERBS)
            and not _TURNS & said
        ):
            # "minimize this", «разверни на весь экран»: only a window is minimized or made full screen (not "the
            # risk"; not "that's bigger", «развернись», «сверни налево»)
            found.add("window")
        return found

    def unexplained(self, tokens: Sequence[str]) -> tuple[list[str], int]:
        """The words that neither name a sense nor are function words ("неделя", "будет", "трудной"), and
        how many words name a sense."""
        masked, _, _ = self._read(tokens)
        return self._left(masked), masked.count("_")

    def _left(self, masked: Sequence[str]) -> list[str]:
        """The words of a read (see `_read`) that no sense, function word or politeness explains."""
        polite = list(masked)
        for form in _POLITE_CONDITIONS:  # «не мог бы ты …», "if you don't mind": politeness
            _mask(polite, form)
        return [t for t in polite if t != "_" and not t.isdigit() and t not in self.function_words]

    def unexplained_verb(self, tokens: Sequence[str]) -> bool:
        """True when a verb no sense explains asks something of someone («говори потише», «запишите номер»);
        only where the dictionary says what a verb is (Russian)."""
        if self.telling_word is None or self.asking is None:
            return False
        left, _ = self.unexplained(tokens)
        return any(self.asking(w) or self.telling_word(w) for w in left)

    def acts_on_other(self, tokens: Sequence[str], *, named: bool = False) -> bool:
        """True when a word no sense explains is what a verb acts on ("turn up the heat", "save the planet",
        «убавь газ», «сохрани мне место»), not a word beside the request ("pause the music for a moment");
        `named`: only a thing named as such ("the heat", «газ»; not "a touch", «чтоб потише»)."""
        masked, _, _ = self._read(tokens)
        verbs = self.verbs_among(tokens) | _PARTICLES
        for k, word in enumerate(masked):
            if word == "_" or word.isdigit() or word in self.function_words:
                continue
            if named and (word in _NOT_THINGS or self.english_past and (k == 0 or tokens[k - 1] != "the")):
                continue
            if named and k + 1 < len(masked) and masked[k + 1] == "_" and tokens[k + 1] not in verbs:
                continue  # it says what the thing after it is like: "turn down the damn music"
            j = k - 1
            while j >= 0 and tokens[j] in _OBJECT_LEADS:
                j -= 1
            if j >= 0 and (
                masked[j] == "_"
                and tokens[j] in verbs
                or named
                and (tokens[j] in _EN_PHRASE_VERBS or tokens[j] in self.light_verbs)  # «сделай телевизор погромче»
            ):
                return True
        return False

    def verb_end(self, tokens: Sequence[str], senses: Iterable[str]) -> int | None:
        """Where words naming one of `senses` end, when they open `tokens` and more words follow ("jot
        down" in "jot down buy milk"); None when they are all that was said ("write down" is no "write
        <down>")."""
        end = max(
            (
                len(form.split())
                for sense in senses
                for form in self.actions.get(sense, ())
                if len(tokens) >= len(form.split()) and opens_with(tokens, form)
            ),
            default=None,
        )
        return None if end == len(tokens) else end

    def refuses(self, tokens: Sequence[str]) -> bool:
        """True when the words deny or only tell rather than ask: negated, or a remark. The words after an
        opening dictation verb are the text to type and are not read ("jot down don't forget the milk")."""
        said = tokens[: self.verb_end(tokens, ("dictate",)) or len(tokens)]
        return self.negated(said) or self.is_remark(" ".join(said))

    def around_place(self, tokens: Sequence[str], begin: int) -> tuple[int, int]:
        """The words to find, without where to find them: "on this page" after them, «на странице» before,
        and "the word" that introduces them."""
        end = len(tokens)
        begin += next((len(f.split()) for f in self._places if opens_with(tokens[begin:end], f)), 0)
        end -= next((len(f.split()) for f in self._places if ends_with(tokens[begin:end], f)), 0)
        # "find garlic on this page i need to know how many cloves": what follows the place only says why
        end = min((i for i, _ in where(tokens[:end], self._places, start=begin + 1)), default=end)
        opener = next(
            (f for f in self.find_openers if end - begin > len(f.split()) and opens_with(tokens[begin:end], f)), None
        )
        return begin + (len(opener.split()) if opener else 0), end

    def names_place(self, tokens: Sequence[str], begin: int) -> bool:
        """True when what follows the verb says where to find it or that it is a word ("... on this page",
        "the word ...", «на странице ...», «слово ...»)."""
        rest = tokens[begin:]
        return any(opens_with(rest, f) or ends_with(rest, f) for f in self.places) or any(
            opens_with(rest, f) for f in self.find_openers
        )

    @cached_property
    def _places(self) -> list[str]:
        """The place forms, longest first."""
        return sorted(self.places, key=lambda f: -len(f.split()))

    def text_start(self, tokens: Sequence[str], start: int) -> int:
        """Where dictated text begins, after the verb ending at `start` and words like "the text"."""
        for form in sorted(self.text_openers, key=lambda f: -len(f.split())):
            n = len(form.split())
            if len(tokens) > start + n and opens_with(tokens[start:], form):
                return start + n
        return start

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
        for form in (*_POLITE_CONDITIONS, *_MISTAKES):  # "if it's not too much bother", «если не трудно»
            _mask(masked, form)
        if tuple(masked[-3:]) in _QUESTION_TAGS:
            masked[-3:] = ["_"] * 3  # "it's month end, isn't it": asks to agree, denies nothing
        for i, word in enumerate(masked):
            if word == "leave" and (i + 1 == len(masked) or masked[i + 1] in _GOING_AWAY):
                masked[i] = "_"  # "i need to leave before the traffic": the speaker goes, nothing is left as it is
        return any(has_form(masked, form) for form in self.negation)

    def on_mute_said_of_someone(self, tokens: Sequence[str]) -> bool:
        """True when a person is said to be on mute ("you're on mute", "i was on mute the whole time", "am i
        on mute?", "she's still on mute"), and nothing else is asked."""
        if self.senses(tokens) & {"unmute", "up", "down"}:
            return False  # "i'm on mute, can you unmute the sound"
        for i in range(1, len(tokens) - 1):
            if tuple(tokens[i : i + 2]) != ("on", "mute"):
                continue
            near = tokens[max(0, i - 3) : i]
            if any(w in _PERSONS or w in _ANYONE for w in near) and any(
                w in _COPULAS or w.endswith(("'s", "'re", "'m")) for w in near
            ):
                return True
        return False

    def tells_past(self, tokens: Sequence[str]) -> bool:
        """True when a verb is in the past («ты скриншот сделал», "did you take a screenshot")."""
        if self.english_past:
            return any(t in ("did", "was", "were") or t in _IRREGULAR_PAST for t in tokens) or any(
                stem in self._verb_forms for t in tokens for stem in _english_past_stems(t)
            )
        return any(len(w) > 3 and w.endswith(self.past_endings) and w not in self._verb_forms for w in tokens)

    def names_theirs(self, tokens: Sequence[str]) -> bool:
        """True when a thing is called the listener's ("turn your music down", «выключи свою музыку»): LOKI has
        no music of its own, so a person is spoken to. The volume is not a thing of theirs ("turn your
        volume down" may be said to LOKI). So is a thing LOKI knows nothing of ("mute your phone"), and a place
        on their screen ("scroll down a bit on your end")."""
        if any(t in ("yourself", "yourselves") for t in tokens):
            return True  # "mute yourself, you're on the class call": said to a person
        for i, t in enumerate(tokens[:-1]):
            if t == "у" and tokens[i + 1] in ("тебя", "себя", "вас"):
                return True  # «прокрути у себя вниз»
            if t not in YOURS or t.startswith("сво") and _FIRST_PERSON.intersection(tokens[:i]):
                continue  # «…, а то я свои фотки не найду»: the speaker's own
            things = self.senses(tokens[i + 1 : i + 2], alone=True)
            if (
                things - {"volume"}  # "your music", "on your end"
                or not things
                and tokens[i + 1] in self.unexplained(tokens[i + 1 : i + 2])[0]
            ):
                return True
        return False

    def stops_doing(self, tokens: Sequence[str]) -> bool:
        """True for words that open with "stop" before what someone is doing ("stop standing on the mute
        button", "quit pressing the mute button"): what is asked is not to do it. Not "stop talking to me"."""
        return (
            len(tokens) > 2
            and tokens[0] in ("stop", "quit")
            and tokens[1].endswith("ing")
            and tokens[1] not in _SPEAKING
        )

    def is_remark(self, text: str) -> bool:
        """True for a remark or question about something rather than a request, for one that tells only
        of the past («ты вчера сохранял файл»: its verbs are past, none asks) or of what someone did
        ("i left the browser open"), and for one about later ("i'll scroll through the news later")."""
        padded = text + " "
        if any(padded.startswith(opening) for opening in self.remark_openings):
            return True
        words = text.split()
        if self.defers(words):
            return True  # LOKI does things now, and a plan for later is talk
        if self.english_past and len(words) > 1 and words[0] in _SUBJECTS:
            if words[1] in _HABITS:
                return True  # "i always close the window first", "you usually turn it up too loud": a habit
            verb = words[2] if words[1] in ("already", "just", "never", "also") and len(words) > 2 else words[1]
            if verb in _IRREGULAR_PAST or any(stem in self._verb_forms for stem in _english_past_stems(verb)):
                return True  # "we closed the shop early": someone did something
            if any(has_form(words, form) for form in _EN_PAST_TIMES):
                return True  # "i left the browser open all night yesterday"
        if self.past_endings and len(words) > 1 and words[0] in _RU_SUBJECTS:
            told = [w for w in words[1:3] if len(w) > 3 and w.endswith(self.past_endings) and w not in self._verb_forms]
            if told:
                return True  # «мы сделали громче», «я уже прокрутил вниз»: someone did something
        if self.imperative_endings and not self.asks_now(words) and any(self._tells_now(w) for w in words):
            return True  # «она всё у меня копирует»: what someone does, and nothing is asked
        if self.asks_how(words):
            return True
        if words[:2] == ["what", "does"] and words[-1] in ("mean", "do", "for"):
            return True  # "what does undo mean", "what does refresh actually do" (not "what does the clock say")
        if (
            self.state_word is not None
            and not self.asks_now(words)
            and any(
                self.state_word(w)
                and w not in self.actions.get("switch", ())
                and any(_word_matches(w, f) for f in self._action_words)
                for w in words
            )
        ):
            return True  # «в браузере три вкладки открыто», «звук выключен?»: what is so, nothing asked
        if self.imperative_endings and not self.asks_now(words) and any(self._speaker_will(w) for w in words):
            return True  # «сейчас открою терминал и гляну»: what the speaker will do
        if self.telling_word is not None and self.tellings is not None and not self.asks_now(words):
            # Someone (named before the verb) and an infinitive after: «а она умеет калькулятор открывать»
            # tells what someone can do; «хватит говорить», «не могли бы вы открыть» still ask.
            subjects = [i for i in self.tellings(words) if not self.telling_word(words[i])]
            verbs = [i for i, w in enumerate(words) if self.telling_word(w) and any(s < i for s in subjects)]
            if verbs and any(w.endswith(_INFINITIVE_ENDINGS) for w in words[verbs[0] + 1 :]):
                return True
        said, past = [], []
        for i, t in enumerate(words):
            if self.english_past and t.endswith("ing"):
                if self._asked_verb(words, i):
                    return False  # "would you mind cutting the selected text" asks
                continue  # "scrolling through my phone": an -ing word asks for nothing by itself
            if any(_word_matches(t, f) for f in self._verb_forms):
                said.append(t)
                if self.past_endings and t.endswith(self.past_endings) and t not in self._verb_forms:
                    past.append(t)
                if words[i + 1 : i + 2] == [self.question_particle]:
                    return True  # «хватит ли нам времени?» asks about the world
            elif self.english_past and any(stem in self._verb_forms for stem in _english_past_stems(t)):
                said.append(t)
                past.append(t)
        if len(past) < len(said):
            return False  # a verb that asks («верни вкладку, которую я закрыл»)
        if self.past_endings and any(
            w in _RU_SUBJECTS and any(len(v) > 3 and v.endswith(self.past_endings) for v in words[i + 1 : i + 4])
            for i, w in enumerate(words)
        ):
            return True  # «сколько времени ты на это потратил»: someone did something, and nothing is asked
        return bool(past) or any(w in self.past_words for w in words)  # «который час был, когда ...»

    def verbs_among(self, words: Iterable[str], *, particles: bool = True) -> set[str]:
        """The words that are verbs of some sense ("close", «закрой»), not things («терминал», «начало»);
        without `particles`, not "up", "down", "back" ... either."""
        return {
            w
            for w in words
            if any(_word_matches(w, f) for f in self._verb_forms) and (particles or w not in _PARTICLES)
        }

    def past_of(self, token: str, verbs: Iterable[str]) -> bool:
        """True when `token` is a past form of one of `verbs` and not one of them: "closed" of "close",
        "took" (irregular), «закрыл» of «закрой», «выключила» of «выключи»."""
        verbs = set(verbs) | self.light_verbs
        if token in verbs:
            return False
        if self.english_past:
            return _IRREGULAR_PAST.get(token) in verbs or any(stem in verbs for stem in _english_past_stems(token))
        ending = next((e for e in sorted(self.past_endings, key=len, reverse=True) if token.endswith(e)), None)
        if ending is None or len(token) - len(ending) < 4:
            return False
        stem = token[: -len(ending)]  # «закры», «выключи»
        return any(
            len(verb) >= 4 and len(os.path.commonprefix([stem, verb])) >= max(4, min(len(stem), len(verb)) - 1)
            for verb in verbs
        )

    def reports(self, words: Sequence[str]) -> bool:
        """True when the words quote someone ("my son asked could you close the tab")."""
        return any(has_form(words, form) for form in self.reporting)

    def quotes(self, words: Sequence[str]) -> bool:
        """True when a person is said to have said it ("close the window he said", «закрой окно, мама
        сказала»), or what is read out ("it says press enter to continue", «тут написано нажми энтер»), but
        not a thing's words after a request ("scroll up i missed what it said")."""
        return any(
            i > 0
            and (words[i - 1] in _SPEAKERS or i <= 2 and words[0] in _READ_FROM)
            or j < len(words)
            and words[j] in _TOLD
            for i, j in where(words, self.reporting)
        )

    def sets_condition(self, words: Sequence[str]) -> bool:
        """True when the words open with a condition or a time ("when this song ends", «если получится»), not
        with politeness ("if you could …") or a repeat ("once more")."""
        return (
            any(opens_with(words, form) for form in self.conditions)
            and not any(opens_with(words, form) for form in (*_POLITE_CONDITIONS, *self.ahead))
            and tuple(words[:2]) not in (("once", "more"), ("once", "again"))
        )

    def addresses(self, words: Sequence[str]) -> bool:
        """True when the words call a family member or a loved one ("mom", «милый»; not "oh dear")."""
        return any(
            w in _ADDRESSEES
            and not (w == "dear" and ("oh" in words[max(0, i - 1) : i] or tuple(words[i + 1 : i + 2]) == ("me",)))
            and not (i > 0 and words[i - 1] in _POSSESSORS)  # "the baby is asleep" is no one called
            for i, w in enumerate(words)
        )

    def defers(self, words: Sequence[str]) -> bool:
        """True when the words put the request off till later ("…later", «попозже»; «я потом сохраню»,
        but not «открой редактор, потом напиши список», where «потом» is "then")."""
        if any(has_form(words, form) for form in self.deferred):
            return True
        # «потом» is also "then": it puts off only a request that asks nothing now («я потом сохраню») or
        # ends the request («скинь скриншот потом»), never «сделай скриншот, потом посмотрю».
        return any(
            has_form(words, form) and (not self.asks_now(words) or form in (words[0], words[-1]))
            for form in self.deferred_alone
        )

    def tells_doing(self, tokens: Sequence[str], sense: str) -> bool:
        """True when a form of `sense` is said only as an -ing word that asks nothing ("i'm scrolling down
        the recipe right now"), so the words tell of doing it rather than ask for it."""
        forms = {f for f in self.actions.get(sense, ()) if " " not in f}
        return sense not in self.senses(tokens, alone=True) and any(self._gerund_verbs.get(t) in forms for t in tokens)

    def tells_from(self, tokens: Sequence[str]) -> list[int]:
        """Where clauses begin, after the first word, that tell what is going on or why rather than ask: at a
        reason ("because", «а то») or at the subject of a verb that tells ("skip it | this one is too sad",
        "volume down | the baby's falling asleep", «обнови страничку | видео зависло»)."""
        starts = {i for i, _ in where(tokens, self.explaining, start=1)}
        if self.tellings is not None:
            starts.update(i for i in self.tellings(tokens) if i >= 1)
        # After "once", "when", «как», «когда» it is a condition, not a reason: "mute it once | the baby is asleep"
        conditions = (*self.conditions, *self.condition_words)
        return sorted(i for i in starts if not any(ends_with(tokens[:i], f) for f in conditions))

    def tells(self, tokens: Sequence[str]) -> bool:
        """True when the words tell something and ask no question ("i think i closed that tab by mistake",
        "the music is far too loud", «я вкладку закрыла»; not "did you close it", «почему звук пропал»)."""
        return (
            self._has_telling(tokens)
            and not any(opens_with(tokens, form) for form in self.questions)
            and self.question_particle not in tokens
        )

    def subject_unexplained(self, tokens: Sequence[str]) -> bool:
        """True when what an English clause tells of is a word no sense explains: "the tv is loud", "the music in
        the car is too loud" (the word before its first verb that tells); not "the music is too loud", "it is"."""
        if not self.english_past:
            return False
        verb = next((i for i, t in enumerate(tokens) if i and (t in _EN_TELLING_VERBS or t.endswith("'s"))), None)
        if verb is None:
            return False
        head = tokens[verb][:-2] if tokens[verb].endswith("'s") else tokens[verb - 1]
        return head in self.unexplained([head])[0] and head not in _EN_PRONOUN_SUBJECTS

    def scene_before_request(self, tokens: Sequence[str], start: int) -> int | None:
        """Where a verb that asks opens the request after a scene that tells («музыка громко играет | убавь
        чуток», «я вкладку закрыла | верни её»), from `start` on; None where words do not say which verbs ask."""
        if self.asking is not None:
            asks = self.asking
        elif self.english_past:
            asks = self._request_verbs.__contains__
        else:
            return None
        at = next(
            (
                j
                for j in range(start, len(tokens))
                if asks(tokens[j])
                and self._has_telling(tokens[:j])
                and (self.asking is not None or _en_opens_request(tokens, j) and not asks(tokens[0]))
            ),
            None,
        )
        while at is not None and at > start and tokens[at - 1] in (*self.negation, "только"):
            at -= 1  # «колонки орут | не убавляй»: the refusal stays with the request
        return at

    def _has_telling(self, tokens: Sequence[str]) -> bool:
        """True when a verb in the words tells (with its subject, or, where the word says so, alone)."""
        if self.telling_word is not None and any(self.telling_word(t) for t in tokens):
            return True
        # English verbs tell by where they stand too: "i closed that tab by mistake"
        return (
            (self.telling_word is None or self.english_past)
            and self.tellings is not None
            and bool(self.tellings(tokens))
        )

    def asks_how(self, words: Sequence[str]) -> bool:
        """True when the words ask how to do it or how long something takes, not to do it ("remind me how to
        close a tab", «напомни, как вкладку вернуть», «сколько времени займёт миграция»)."""
        if any(has_form(words, form) for form in self.how_to):
            return True
        if self.imperative_endings and "как" in words:
            if any(w.endswith(("ть", "ться", "чь")) for w in words[words.index("как") + 1 :]):
                return True  # «как тут скриншот делать»
        return (
            self.telling_word is not None
            and has_form(words, "сколько времени")
            and any(self.telling_word(w) for w in words)
        )

    def _speaker_will(self, word: str) -> bool:
        """True for a Russian verb of a sense in the first person («открою», «сохраню», «сверну»)."""
        return (
            len(word) > 4
            and word.endswith(("ю", "у"))
            and any(f.endswith("*") and _word_matches(word, f) for f in self._verb_forms)
            and russian.speaker_verb(word)  # not «паузу», «страницу»
        )

    def _tells_now(self, word: str) -> bool:
        """True for a Russian verb of a sense in the third person present («копирует», «закрывает»)."""
        return (
            len(word) > 4
            and word.endswith(_RU_THIRD_PERSON)
            and any(f.endswith("*") and _word_matches(word, f) for f in self._verb_forms)
        )

    def asks_now(self, words: Sequence[str]) -> bool:
        """True when the words ask now: they open with a verb ("pause the video"), or, where verbs say so by
        their ending, hold an imperative («сохрани», «поставь», not «сохраню»)."""
        if not self.imperative_endings:
            asked = self.action_senses(self.senses(words, alone=True))
            if (
                asked
                and words[:1]
                and (words[0] in self.light_verbs | _EN_GRAB or self.verbs_among(words[:1], particles=False))
            ):
                # "grab a screenshot": a light verb asks for what follows; "play the previous piece": a verb of
                # another sense the words were read with
                return True
            return self.verb_end([*words, ""], asked) is not None
        if words and words[0] in _ENOUGH:
            return True  # «хватит говорить», «довольно болтать»: enough is asked now
        return any(
            len(w) > 3
            and w.endswith(self.imperative_endings)
            and not w.endswith(_INFINITIVE_ENDINGS)  # «открывать» names the action, «открывай» asks
            and (w in self.light_verbs or any(_word_matches(w, f) for f in self._verb_forms))
            for w in words
        )

    def in_steps(self, tokens: Sequence[str]) -> bool:
        """True when the words ask for one thing and then another ("open the editor and type hello",
        «открой браузер, потом новую вкладку»); dictated text is not read ("type bread and milk")."""
        if self.verb_end(tokens, ("dictate",)) is not None:
            return False
        return any(
            all(self.action_senses(self.senses(part)) for part in (tokens[:i], tokens[j:]))
            and (not self.imperative_endings or self.asks_now(tokens[j:]))  # not «…, я потом прибавлю»
            for i, j in where(tokens, self.sequencing, start=1)
        )

    def wanted_done(self, tokens: Sequence[str]) -> list[str] | None:
        """A wish for a thing to be done, as the request itself: "i want this window closed" -> "close this
        window", "i'd like the file manager opened" -> "open the file manager"; [] for a wish about something
        else ("i want the cake cut"); None for anything else."""
        if not self.english_past or not tokens:
            return None
        opener = max((len(f.split()) for f in _EN_WISHES if opens_with(tokens, f)), default=0)
        if not opener or len(tokens) < opener + 2:
            return None
        done = tokens[-1]
        verb = next(
            (
                v
                for v in (_IRREGULAR_PAST.get(done), *_english_past_stems(done))
                if v and self.action_senses(self.senses([v]))
            ),
            None,
        )
        if verb is None:
            return None
        middle = tokens[opener:-1]
        if tuple(middle[-1:]) == ("be",):
            middle = middle[:-1]  # "i would ask that this window be minimized"
        if self.unexplained(middle)[0]:
            return []  # "i want that guy silenced", "i need my hair cut": something else is to be done
        return [verb, *middle]

    def unneeded(self, tokens: Sequence[str]) -> bool:
        """True when negated words only say a thing is no longer needed, set it apart or tell of the speaker,
        which explains a request rather than refuses it ("close this tab, | i do not need it", «закрой вкладку,
        | она больше не нужна», "close the whole app, | not just the tab", "make it bigger, | my eyes are not
        what they were")."""
        return (
            # "not the whole window", "i don't need it again" ask nothing
            not self.action_senses(self.senses([t for t in tokens if t not in _AGAIN])) - {"all"}
            and (
                any(has_form(tokens, f) for f in self.not_needed)
                or tuple(tokens[:1]) in (("my",), ("our",), ("мои",), ("мой",), ("моя",))  # "my eyes aren't …"
                or tuple(tokens[:1]) == ("не",)
                and bool(self.senses(tokens[1:], alone=True) & self.objects.keys())
            )
            and not self.takes_back(tokens)  # "no, i don't need it": taken back
            and not any(t in _NOT_YET for t in tokens)  # "not just yet"
        )

    def of_the_speaker(self, tokens: Sequence[str]) -> bool:
        """True when the words tell of the speaker ("i cannot hear the video", "i'm not doing math in my head",
        «сам не могу», «я ничего не вижу»): after a request they only say why. A wish ("i want …", «мне
        нужно …»), "i mean …" and what takes the request back are not told of the speaker alone. So does what the
        speaker did to the thing asked for («вставь сюда, | что скопировал», "paste it, | what i copied")."""
        if tuple(tokens[:1]) in (("what",), ("что",)) and len(tokens) > 1 and self.tells_past(tokens[1:]):
            return True
        if tokens[:1] == ("i'll",) or tokens[:2] == ("i", "will"):
            # "grab a screenshot, | i'll put it in the show notes": what the speaker will do with it ("…, i'll do
            # it later" puts off, and "…, i'll close the tab" asks more)
            return not self.defers(tokens) and not self.action_senses(self.senses(tokens))
        wish = max((len(f.split()) for f in _EN_WISHES if " " in f and opens_with(tokens, f)), default=0)
        if wish and tokens[wish : wish + 1] == ("to",) and len(tokens) > wish + 1:
            # "…, i should like to hear the video", "…, i need to leave": what the speaker means to do, not a request
            return not self.action_senses(self.senses(tokens[wish + 1 : wish + 2], alone=True))
        return (
            tuple(tokens[:1]) in _SPEAKER
            and not any(t in _SPEAKER_ASKS for t in tokens[1:4])
            and not self.takes_back(tokens)
        )

    def takes_back(self, tokens: Sequence[str]) -> bool:
        """True when the words open by taking back what was asked ("no", "actually", «а впрочем»)."""
        return any(opens_with(tokens, f) for f in self.takings_back)

    def request_after_reason(self, tokens: Sequence[str]) -> tuple[int, int] | None:
        """Where the words that lead from a reason to its request stand ("the page looks frozen | so |
        refresh it", «дети спят, | так что | убавь звук»): "so" when a verb that asks follows it, the reason
        has two words or more and "so" says no "very" ("it's so close to the deadline"); else None."""
        if self.verb_end(tokens, ("dictate",)) is not None:
            return None  # "type i'm late so start without me" is all the text
        for i, j in where(tokens, self.consequences, start=2):
            rest = tokens[j:]
            if not rest or tokens[i - 1] in _EN_BEFORE_SO_VERY:
                continue
            if any(opens_with(rest, f) for f in self.request_openers):
                return i, j
            if self.asking is not None:
                if self.asking(rest[0]):
                    return i, j
            else:
                verb = rest[1] if rest[0] in ("please", "just") and len(rest) > 1 else rest[0]
                if len(rest) > 1 and (
                    verb in self._request_verbs or verb == "go" and self.action_senses(self.senses(rest))
                ):
                    return i, j
        return None

    def correction(self, tokens: Sequence[str]) -> tuple[int, int] | None:
        """Where the last words that take back what came before start and end ("open the terminal no
        sorry the browser": 3, 5), or None. Never at the start, and never inside dictated text."""
        if self.verb_end(tokens, ("dictate",)) is not None:
            return None
        found = max(where(tokens, self.corrections, start=1), default=None)
        if found is None:  # "scroll up three no four", «прокрути на пять нет на семь»: a number put right
            found = next(
                (
                    (i, i + 1)
                    for i in range(len(tokens) - 2, 0, -1)
                    if tokens[i] in _BARE_NO and tokens[i - 1].isdigit() and tokens[-1].isdigit()
                ),
                None,
            )
        return found

    def addressed_elsewhere(self, raw: str) -> bool:
        """True when a request opens by calling someone else: "honey, turn up the stove", «мам, закрой
        окно», «саш, сделай потише» (a family word, an endearment, or a Russian short form of a name)."""
        head, comma, rest = raw.partition(",")
        said = normalize(raw).tokens
        if any(t in _TO_A_PERSON for t in said):
            return True  # «вас не слышно», «покажите ваши документы»: LOKI is never the one not heard
        if not (comma and rest.strip()):
            # No comma: a family word or a name first ("mom how do you take a screenshot", «коля выключи звук»).
            return len(said) > 1 and (
                said[0] in _FAMILY
                or self.name_word is not None
                and self.name_word(said[0])
                and said[0] in self.unexplained(said)[0]  # «алт таб на терминал» names a key, not a person
            )
        if self.verb_end(said, ("dictate",)) is None and any(
            normalize(p).tokens in _CHILD_CALLS for p in rest.split(",")[:-1]
        ):
            # «тише, зайка, мама здесь»: a child is called, after the first comma too (a pet name that ends a
            # request calls the one asked: "scroll down ten, honey", «сверни окошко, зайка»)
            return True
        tokens = normalize(head).tokens
        if self.telling_word is not None and any(self.telling_word(t) for t in tokens):
            return False  # «дети спят, так что убавь звук»: who does what, not who is called
        if 0 < len(tokens) <= 2 and self.addresses(tokens):
            return True
        if not 0 < len(tokens) <= 2 or any(t in self.function_words for t in tokens):
            return False
        return (
            len(tokens) == 1
            and (self._short_name(tokens[0]) or self.name_word is not None and self.name_word(tokens[0]))
            and tokens[0] not in _CALLS_THE_COMPUTER
        )

    def _short_name(self, word: str) -> bool:
        """«саш», «маш», «пап»: a short Russian name or family word said to someone."""
        return (
            has_cyrillic(word)
            and 3 <= len(word) <= 4
            and word[-1] not in "аеиоуыэюяй"
            and word not in self.function_words
            and not self.senses([word], alone=True)
        )

    @cached_property
    def _action_words(self) -> frozenset[str]:
        """Every word of the action senses' forms («звук», «выкл*» of «звук выкл*»)."""
        return frozenset(w for forms in self.actions.values() for f in forms for w in f.split())

    @cached_property
    def _request_verbs(self) -> frozenset[str]:
        """English verbs that may open a request ("mute", "reopen", "turn" of "turn it down", "make"): the verb
        senses' one-word forms and the verbs of their phrases, less function words and weak forms."""
        return (
            frozenset(
                w
                for w in self._verb_forms | _EN_PHRASE_VERBS | self.light_verbs
                if w.isalpha() and w not in self.function_words | self.weak
            )
            - _EN_NOT_VERBS
        )

    @cached_property
    def _verb_forms(self) -> frozenset[str]:
        """One-word forms of the senses that are verbs ("закр*", "выдели"), not places or times ("начал*")."""
        return frozenset(
            f for sense, forms in self.actions.items() if sense not in _NOT_VERBS for f in forms if " " not in f
        )

    def conflicts(self, heard: AbstractSet[str], rule: AbstractSet[str]) -> bool:
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


def ends_with(tokens: Sequence[str], form: str) -> bool:
    """True when `tokens` end with the words of `form`."""
    n = len(form.split())
    return len(tokens) >= n and opens_with(tokens[len(tokens) - n :], form)


def where(tokens: Sequence[str], forms: Iterable[str], *, start: int = 0) -> list[tuple[int, int]]:
    """Where any of `forms` stands in `tokens` from `start` on, as (first word, word after), in order."""
    return sorted(
        (i, i + len(form.split()))
        for form in forms
        for i in range(start, len(tokens) - len(form.split()) + 1)
        if opens_with(tokens[i:], form)
    )


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


_WINDOW_VERBS = _forms(
    "minimize | minimise | maximize | maximise | full screen | fullscreen | full size | whole screen | сверни | сверните | "
    "разверни | разверните | на весь экран | во весь экран | полноэкран*"
)
_TURNS = frozenset("здесь тут там налево направо повороте поворот".split())
"""«сверни налево», «сверни здесь»: a driver turns."""
_TURN_ON = frozenset(
    "start restart включи включите включить вруби врубай врубите врубить запусти запустите запустить".split()
)
"""Verbs that start music playing ("start the music", «включи музыку»); "open the video" opens a file."""
_PERSONS = frozenset("i we me you he she they him her them we're he's she's they're я мы ты вы он она они".split())
_NOT_VERBS = frozenset({"previous", "next", "top", "bottom", "date", "time", "page", "pageful", "all", "new", "idiom"})
"""Senses whose forms are no verbs ("top", «начало»)."""
_EN_PHRASE_VERBS = frozenset(
    "turn bring put take give pull fire boot spin kick tone jump roll nudge tuck throw knock".split()
)
_EN_NOT_VERBS = frozenset(
    "ahead back backward backwards forward forwards clipboard deafening enough higher bigger louder quieter softer quiet silent off".split()
)
"""Forms of verb senses that are no verbs ("the house is quiet")."""
_EN_BEFORE_SO_VERY = frozenset(
    "is was are were be been am it's that's i'm you're we're they're he's she's look looks looked feel feels felt seem seems got get getting gets".split()
)
"""Words after which "so" is "very" ("it's so close"), not "and therefore"."""
_EN_NOT_BEFORE_REQUEST = frozenset(
    """the a an this that my your his her our their to will would can could should must might may not and or of for in
    on at with do does did don't doesn't didn't is was are were be been has have had isn't wasn't won't can't cannot
    couldn't wouldn't""".split()
)
"""Words after which an English verb does not open a request ("the close button", "to open", "will close")."""
_HABITS = frozenset("always usually often sometimes normally generally rarely".split())
_MIND_ADVERBS = frozenset({"terribly", "awfully", "just", "quickly"})
_EN_GRAB = frozenset({"grab", "get", "snap", "bring"})
_ENOUGH = frozenset("хватит довольно харэ хорош прекрати перестань".split())
_DIRECTIONS_UP = frozenset("up вверх наверх выше повыше".split())
_QUESTION_TAGS = frozenset(
    tuple(f"{verb} not {subject}".split())
    for verb in ("is", "are", "was", "does", "do")
    for subject in ("it", "they", "you")
)
"""Tags that ask to agree ("isn't it", after "isn't" became "is not")."""
_GOING_AWAY = frozenset("before now soon early at in for after by home work today tonight then and so or".split())
"""What follows "leave" when the speaker is the one who leaves ("i need to leave before the traffic")."""
_MISTAKES = _forms("не то | не туда | didn't mean | did not mean")
"""«ой не то, отмени», "i didn't mean to do that, undo it": the wrong thing was done, which is no refusal."""
_APPS = frozenset({"browser", "terminal", "files", "editor", "calculator"})
_UNDO_THE_UNDO = frozenset({"отмену", "отмены"})
_BARE_NO = frozenset({"no", "нет"})
"""A bare "no" takes back only the number before it ("scroll up three no four")."""
_SUBJECTS = frozenset({"i", "we", "he", "she", "they", "you", "it"})
_RU_SUBJECTS = frozenset({"я", "мы", "ты", "вы", "он", "она", "они"})
_FAMILY = frozenset(
    """mom mum mommy mummy dad daddy grandma grandpa granny kids son honey мам мама пап папа бабушка дедушка
    бабуль дедуль дети ребята дочка""".split()
)
"""Family words that, first and with no comma, still call someone other than LOKI."""
_SPEAKER = frozenset({("i",), ("я",), ("сам",), ("сама",), ("мне",), ("меня",), ("ты",)})
"""Words that open what the speaker tells of themself, or of the listener («…, ты мне стрим перебиваешь») (`Lexicon.of_the_speaker`)."""
_SPEAKER_ASKS = frozenset(
    "want wanna need would like mean meant said хочу хотел хотела хочется нужно нужна нужен надо имею имел имела "
    "сказал сказала просил просила".split()
)
"""Words that make what the speaker tells of themself a wish, a correction or a request said again."""
_NOT_YET = frozenset("yet now пока ещё еще сейчас".split())
"""Words that make a negation a "not yet" ("not just yet", «пока не надо»)."""
_CHILD_CALLS = frozenset(
    (w,)
    for w in "honey sweetie kiddo sweetheart darling mom mum dad зайка зай малыш малышка детка солнце солнышко мам пап "
    "маленький маленькая крошка котик".split()
)
"""A word set off by commas that calls a child or a family member ("quiet down, sweetie, mummy's here")."""
_CALLS_THE_COMPUTER = frozenset("шеф комп бот".split())
"""Short words said to the computer, not to a person («шеф, давай обратно в калькулятор»)."""
_TO_A_PERSON = frozenset("вас вам ваш ваша ваши вашу ваше вашего".split())
_ADDRESSEES = frozenset(
    """honey hon dear darling babe baby sweetie sweetheart love kids kiddo guys mom mum mommy mummy dad daddy
    son sweetie grandma grandpa granny buddy dude bro mate sis братан бро чувак брат братишка
    мам мама пап папа дорогой дорогая милый милая дочка доча ребята дети детка бабуль бабушка дедуль
    дедушка малыш зай зайка солнце солнышко друзья радиослушатели слушатели зрители folks everyone listeners
    народ трибуны болельщики парни пацаны девочки мальчики девчонки альты сопрано тенора басы""".split()
)
_NOT_THINGS = frozenset("чтоб чтобы что как было будет стало стала and but so".split())
"""Words a verb may stand before that are no thing it acts on («сделай, чтоб потише было»)."""
_OBJECT_LEADS = frozenset(
    "the a an this that these those my your his her our their some it all me us him them мне мой мою моё мои свой свою это эту этот".split()
)
"""Words between a verb and what it acts on ("turn up *the* heat", «сохрани *мне* место»)."""
_TOLD = frozenset({"him", "her", "them", "ему", "ей"})
"""Who a request was said to ("turn it down, i told him")."""
_COPULAS = frozenset("am is are was were be been".split())
_ANYONE = frozenset("everyone everybody someone somebody anyone anybody".split())
_FIRST_PERSON = frozenset("я мы мне нам меня нас".split())
YOURS = frozenset("your yours твой твою твоя твоё твое твои свой свою своя своё свое свои".split())
_SPEAKING = frozenset("talking speaking reading saying chatting blabbing yapping rambling going playing".split())
_READ_FROM = frozenset("it this that the here there тут там здесь".split())
"""What opens words read out from the screen ("it says press enter", «тут написано …»)."""
_POSSESSORS = frozenset("the a my our your his her their this that наш наша мой моя твой твоя".split())
_SPEAKERS = _FAMILY | _ADDRESSEES | frozenset("he she they you we он она они ты вы мы".split())
"""People whose words a request may be ("… he said", «… мама сказала»)."""
_INFINITIVE_ENDINGS = ("ть", "ться", "чь")
_RU_THIRD_PERSON = ("ет", "ит", "ут", "ют", "ат", "ят", "ется", "ится", "утся", "ются", "атся", "ятся")
_EN_THIRD_PERSON = frozenset(
    "he she it this that everything nothing something someone somebody nobody everyone everybody".split()
)
_EN_PRONOUN_SUBJECTS = (_EN_THIRD_PERSON - {"that"}) | {"i", "we", "you", "they", "there"}
_EN_DETERMINERS = frozenset("the this that these those his her their your a an".split())
_AFTER_IS = frozenset(
    """not too so very really still on off over asleep awake here there gone done back out in away a an the
    all just always never getting going coming""".split()
)


def _is_after(following: Sequence[str]) -> bool:
    """True when the word after "…'s" reads as after "is" ("the baby's falling", "this one's the wrong one",
    "it's stuck"), not as after a possessive ("mom's number", "the cat's mess")."""
    if not following:
        return True
    word = following[0]
    return word in _AFTER_IS or word.endswith(("ing", "ed", "en")) and word not in _ING_NOUNS


_ING_NOUNS = frozenset(
    """meeting morning evening wedding building painting drawing thing something nothing everything anything
    ring king spring string ceiling feeling clothing pudding birthday garden kitchen children""".split()
)


_NOT_ONLY_PAST = frozenset({"left", "put", "set", "cut", "shut"})  # also a direction, or the same word now
_EN_TELLING_VERBS = frozenset(
    """is are was were am isn't aren't wasn't weren't won't will doesn't didn't can't cannot couldn't keeps has
    hasn't should shouldn't must might froze broke stuck crashed""".split()
)
_EN_BEFORE_VERB = frozenset("just already finally always only really never also still probably".split())


def _english_tellings(tokens: Sequence[str]) -> list[int]:
    """Where the subject of a verb that tells stands: "the telephone is ringing", "this one's too sad", "she
    wants me to add it up"; never "the file that is on the desktop" (a relative clause has no subject)."""
    starts = []
    for verb, word in enumerate(tokens):
        if word.endswith("'s") and word != "let's" and _is_after(tokens[verb + 1 : verb + 2]):
            # "the baby's falling asleep", "she's asleep": the subject and its verb in one word
            starts.append(verb - 1 if verb and tokens[verb - 1] in _EN_DETERMINERS else verb)
            continue
        v = verb  # the subject stands before the verb and its adverbs ("she just dozed off")
        while v > 1 and tokens[v - 1] in _EN_BEFORE_VERB:
            v -= 1
        past = len(word) > 4 and word.endswith("ed") or word in _IRREGULAR_PAST and word not in _NOT_ONLY_PAST
        third = word.endswith("s") and len(word) > 3 and v > 0 and tokens[v - 1] in _EN_THIRD_PERSON
        if not (word in _EN_TELLING_VERBS or past or third):
            continue
        if v and tokens[v - 1] in _EN_PRONOUN_SUBJECTS:
            if past and v > 1 and _may_be_noun(tokens[v - 2]):
                continue  # "undo the damage he did", "play the song she liked": what the thing is, not why
            starts.append(v - 1)
        elif v > 1 and tokens[v - 2] in _EN_DETERMINERS and tokens[v - 1] not in _EN_FUNCTION:
            starts.append(v - 2)
        elif (
            v > 2
            and tokens[v - 3] in _EN_DETERMINERS
            and not {tokens[v - 2], tokens[v - 1]} & (_EN_FUNCTION - {"one"})
            and "'" not in tokens[v - 2] + tokens[v - 1]
        ):
            starts.append(v - 3)  # "the little one is", "this one is"
    return starts


def _en_opens_request(tokens: Sequence[str], j: int) -> bool:
    """True when the English verb at `j` may be an imperative: not after "the", "to", "didn't", nor after a
    subject ("i always close the window first")."""
    i = j - 1
    while i > 0 and tokens[i] in _EN_BEFORE_VERB:
        i -= 1
    return tokens[i] not in _EN_NOT_BEFORE_REQUEST and tokens[i] not in _EN_PRONOUN_SUBJECTS


def _may_be_noun(word: str) -> bool:
    """False for a word that is surely no noun (a function word, a number, a particle like "down")."""
    return word not in _EN_FUNCTION and not word.isdigit() and word not in _PARTICLES


_RU_BEFORE_VERB = frozenset("не уже опять снова тоже всё все ещё еще вообще ничего там тут больше совсем".split())
_RU_SOMEHOW = frozenset("что чё че как".split())
_RU_PRONOUN_SUBJECTS = frozenset("он она оно они".split())
_RU_THIS = frozenset("эта этот эти".split())


def _russian_tellings(tokens: Sequence[str]) -> list[int]:
    """Where the subject of a verb that tells stands («шеф идёт», «видео зависло», «коллеги уже косятся»,
    «чё-то ничего не грузится»), where a verb of the speaker's own opens («хочу заметку накидать»), and
    where «он», «она», «оно», «они», or «эта» + a noun + more, begin one («эта песня кринж»). A verb with
    no subject before it begins none."""
    starts = []
    for v, word in enumerate(tokens):
        after_noun = v > 0 and russian.is_noun(tokens[v - 1])  # «включи следующую песню | эта больно грустная»
        before_subject = v + 2 < len(tokens) and russian.may_be_subject(tokens[v + 1])  # «| эта песня кринж»
        if word in _RU_PRONOUN_SUBJECTS or word in _RU_THIS and v + 1 < len(tokens) and (after_noun or before_subject):
            starts.append(v)
            continue
        if word in _RU_FUNCTION or not russian.tells(word):
            continue
        i = v
        while i > 0 and (tokens[i - 1] in _RU_BEFORE_VERB or russian.is_adverb(tokens[i - 1])):
            i -= 1
        if russian.speaker_verb(word):
            starts.append(i)  # «хочу», «могу»: the speaker tells of themselves
            continue
        if i > 0 and russian.may_be_subject(tokens[i - 1]) and tokens[i - 1] not in _RU_FUNCTION - _RU_THIS:
            i -= 1
            if i > 0 and tokens[i - 1] in _RU_THIS:
                i -= 1
        elif i > 1 and tokens[i - 1] == "то" and tokens[i - 2] in _RU_SOMEHOW:
            i -= 2  # «что-то зависла»
        else:
            continue  # no subject: «громче всех кричал петя», «закрой окно на кухне, дует» are one sentence
        starts.append(i)
    return starts


_POLITE_CONDITIONS = _forms(
    "не могли бы | не мог бы | не могла бы | не подскажешь | не подскажете | when you get a chance | when you have a chance | when you have a moment | when you get a moment | when you have a second | whenever you can | if it is not too much | if you do not mind | if you would | if you could | if you can | if possible | если не трудно | если можно | если тебе не трудно | если вам не трудно | если тебе не сложно | если вам не сложно | если не сложно"
)
"""Conditions that are only politeness ("if it's not too much bother could you ...")."""
_EN_PAST_TIMES = _forms("yesterday | last night | last week | this morning | earlier today | ago")
_IRREGULAR_PAST = {
    past: verb
    for past, verb in (
        pair.split(":")
        for pair in """left:leave took:take made:make had:have did:do saw:see got:get forgot:forget went:go was:be
        were:be put:put set:set lost:lose ran:run shut:shut found:find kept:keep brought:bring threw:throw
        undid:undo redid:redo cut:cut began:begin""".split()
    )
}
"""English past forms that are not verb + -ed, with their verbs ("put", "set", "shut" and "cut" are both)."""


_AGAIN = frozenset({"again", "anymore", "снова", "опять"})
"""Words that say a thing is not needed any more rather than ask for it again ("i don't need it again")."""
_EN_WISHES = _forms(
    "i want | i would like | i should like | i would ask that | i need | i would love | i wanna | want | need | i would prefer"
)
"""Openings of a wish that a thing be done ("i want this window closed")."""


def _english_past_stems(token: str) -> tuple[str, ...]:
    """The verbs an English -ed word may be the past of: opened -> open, closed -> close, copied -> copy,
    skipped -> skip."""
    if not token.endswith("ed") or len(token) < 5:
        return ()
    return (token[:-2], token[:-1], token[:-3] + "y", token[:-3])


@lru_cache(maxsize=4096)
def _gerunds(form: str) -> tuple[str, ...]:
    """An English verb's -ing forms ("would you mind closing the tab"): close -> closing, skip -> skipping."""
    if len(form) < 3 or not form.isascii() or not form.isalpha():
        return ()
    stem = form[:-1] if form.endswith("e") and not form.endswith("ee") else form
    doubled = form + form[-1] if form[-1] in "bdgmnprt" and form[-2] in "aeiou" and form[-3] not in "aeiou" else form
    return (stem + "ing", doubled + "ing")


def _tells_in_russian(word: str) -> bool:
    return word not in _RU_FUNCTION and russian.tells(word) and not russian.speaker_verb(word)  # not «не хочу»


def _opposites(pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a, b in pairs:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in out.items()}


LEXICONS = {
    "en": Lexicon(
        _EN_ACTIONS,
        _EN_OBJECTS,
        _opposites(_EN_OPPOSITES),
        _EN_NEGATION,
        _EN_REMARK_OPENINGS,
        _EN_WEAK,
        _EN_FUNCTION,
        _EN_TEXT_OPENERS,
        english_past=True,
        past_words=frozenset({"was", "were", "had"}),
        deferred=_forms("later | tomorrow | tonight | someday | some day | eventually | next week | remind me to"),
        corrections=_forms(
            "nope | never mind | no sorry | sorry no | sorry | no wait | wait no | i mean | sorry i mean | no i mean | ah no | oh no | no no | scratch that | or rather | make that | actually no"
        ),
        sequencing=_forms("and | then | and then | after that | afterwards | also"),
        explaining=_forms(
            "because | cause | 'cause | coz | cuz | since | otherwise | so that"
            # what is to be beaten to it: "save it now before she spills her juice on it"
            " | before you | before he | before she | before we | before they | before my"
        ),
        ahead=_forms("before"),
        consequences=_forms("so | so just | and so | that's why | which is why"),
        not_needed=_forms(
            "do not need | will not need | not needed | no longer need | no longer needed | not need | not just the | not just this | not just that | not just my | not only the | not only this | not the | not this | not that | not my"
        ),
        takings_back=_forms("no | nah | nope | actually | wait | on second thought | forget it | never mind"),
        tellings=_english_tellings,
        telling_word=_EN_TELLING_VERBS.__contains__,
        how_to=_forms(
            "how to | how do i | how do you | how can i | how would i | show me how | shortcut for | shortcut to | hotkey for | key for | which key | what key"
        ),
        questions=_forms(
            "did | do | does | have | has | is | are | was | were | why | how | who | whom | whose | when | what | where | which | will | can | could | would | should | shall | am i"
        ),
        request_openers=_forms(
            "could you | would you | can you | will you | could i | can i | i'd like you to | please could you | please would you | please can you"
        ),
        reporting=_forms("said | says | asked | asks | told | tells | saying | asking | telling | keeps saying"),
        conditions=_forms("when | whenever | if | what if | once | after | before | until | as soon as | in case"),
        find_openers=_forms("the word | word | the phrase"),
        places=_forms(
            "the page for | this page for | on this page | in this page | on the page | in the page | on this site | on the site | on here | in here | in this document | in the document | in this doc | in this file"
        ),
        light_verbs=frozenset({"take", "make", "do", "give"}),
        composing=_forms(
            "write a | write an | write me | write some | write something | write my | write him | write her | write them | write to | write back | write about | write it | write that | write this | write the date | write the time | write the day"
        ),
    ),
    "ru": Lexicon(
        _RU_ACTIONS,
        _RU_OBJECTS,
        _opposites(_RU_OPPOSITES),
        _RU_NEGATION,
        _RU_REMARK_OPENINGS,
        _RU_WEAK,
        _RU_FUNCTION,
        _RU_TEXT_OPENERS,
        past_endings=("л", "ла", "ло", "ли", "лся", "лась", "лось", "лись"),
        past_words=frozenset({"был", "была", "было", "были", "вчера", "позавчера"}),
        question_particle="ли",
        deferred=_forms("позже | попозже | завтра | когда-нибудь | когда нибудь | на следующей неделе"),
        deferred_alone=_forms("потом | после"),
        corrections=_forms(
            "ой нет | нет нет | то есть | вернее | точнее | ой не | не не | нет лучше | нет стоп | ой то есть | тьфу | тьфу ты"
        ),
        light_verbs=frozenset(
            # and the officialese «произведите вырезание», «осуществи переход»
            {"сделай", "дай", "поставь", "включи", "сделайте", "дайте", "поставьте", "включите"}
            | {"произведи", "произведите", "осуществи", "осуществите"}
        ),
        imperative_endings=("и", "й", "ь", "ите", "йте", "ьте"),
        explaining=_forms(
            "потому что | так как | а то | ведь | чтобы | чтоб | иначе | пока не | мне надо | мне нужно | мне пора | мне необходимо | перед тем как | прежде чем"
        ),
        ahead=_forms("перед тем как | прежде чем | пока не"),
        consequences=_forms("так что | поэтому | вот и | и поэтому"),
        not_needed=_forms(
            "не нужн* | не нужен | не надо больше | больше не надо | не только | бы не хотел* | не слышу ничего | ничего не слышу | не слышно | не вижу ничего | ничего не вижу | не видно"
        ),
        takings_back=_forms("нет | а впрочем | впрочем | хотя | ладно | стоп | погоди | отмена"),
        tellings=_russian_tellings,
        questions=_forms(
            "почему | зачем | кто | когда | как | где | куда | откуда | что | какой | какая | какое | какие | сколько | разве | неужели"
        ),
        asking=russian.asks,
        telling_word=_tells_in_russian,
        name_word=russian.first_name,
        state_word=russian.tells_state,
        request_openers=_forms(
            "можешь | можете | не могли бы | не мог бы | не могла бы | будь добр | будь добра | будьте добры | будьте любезны | будьте так добры"
        ),
        reporting=_forms(
            "сказал* | говорит | говорил* | говорят | спросил* | спрашива* | просил* | попросил* | пишут | написано"
        ),
        conditions=_forms("когда | если | как только | после того | пока | в случае"),
        condition_words=_forms("как"),
        find_openers=_forms("слово | фразу | мне слово | мне фразу"),
        places=_forms(
            "по странице | на странице | на этой странице | по страничке | на страничке | на этой страничке | на сайте | на этом сайте | тут | здесь"
        ),
        sequencing=_forms("и | потом | затем | а потом | и потом | после этого | а затем | и ещё | и еще"),
        composing=_forms(
            "напиши письмо | напиши сообщение | напиши мне | напиши ему | напиши ей | напиши им | напиши что нибудь | напиши что то | напиши стих | напиши стихотворение | напиши рассказ | напиши текст про | напиши ответ | напиши про | напиши о | напиши дату | напиши время | напиши число | напиши день | напиши это"
        ),
    ),
}


def contradicts(heard: str, phrase: str, language: str) -> bool:
    """True when `phrase` asks the opposite of what `heard` says ("turn the volume up" / "turn down the
    volume", "next song" / "last song"): a near-miss rescue must never swap one for the other."""
    lexicon = LEXICONS.get(language)
    if lexicon is None:
        return False
    return lexicon.conflicts(_senses_of(heard, language), _senses_of(phrase, language))


@lru_cache(maxsize=8192)
def _senses_of(text: str, language: str) -> frozenset[str]:
    """The senses of a text read alone (cached: a rescue weighs the same profile phrases again and again)."""
    return frozenset(LEXICONS[language].senses(normalize(text).tokens, alone=True))
