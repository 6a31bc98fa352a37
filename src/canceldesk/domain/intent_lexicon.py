"""The words the assistant listens for: intents, categories and brand aliases, in zh and en.

Plain data. `intent.py` matches these against the raw text, against its pinyin (so a homophone
typo such as 退定/续废/腾迅 still counts) and, for Latin words, with a fuzzy ratio (so
"unsubscibe" or "renwal" still count). Product names themselves are never listed here: a
subscription is matched by its own name, partner and price, and by the category its name implies.
"""
from __future__ import annotations

import re

# ---- intents: regular expressions over the normalised (lower-case, half-width) text -------------
HUMAN = [r"人工", r"客服", r"真人", r"接线员", r"话务员", r"找个人", r"活人", r"坐席",
         r"\bhuman\b", r"\bagent\b", r"real person", r"\boperator\b", r"representative", r"live person",
         r"customer service", r"speak (to|with) (a |some)", r"talk (to|with) (a |some)", r"\bsomeone\b.*\b(help|talk)"]
COMPLAINT_STRONG = [r"投诉", r"举报", r"工信部", r"12300", r"申诉", r"消协", r"12315",
                    r"complain", r"\bappeal\b", r"report you", r"ombudsman", r"regulator"]
COMPLAINT_WEAK = [r"乱扣", r"乱收费", r"坑人", r"被坑", r"骗", r"偷偷", r"私自", r"没经过我同意", r"我没同意",
                  r"莫名其妙", r"黑心", r"为什么扣", r"重复扣", r"多扣", r"扣了我?两次", r"退款", r"\brefund", r"ripped off", r"rip.?off", r"\bscam", r"fraud", r"without my (consent|permission)",
                  r"never (agreed|signed up|asked|ordered|subscribed)", r"unauthori[sz]ed", r"sneak"]
CLOSE = [r"销户", r"销号", r"销卡", r"退网", r"拆机", r"(注销|销|停用|作废)(掉|了)?(这个|我的|此|该)?(手机|副|主|保号)?(号码|号|卡|手机卡|电话卡|账户)",
         r"(close|cancel|terminate|deactivate)\s*(掉|了)?.{0,8}(号码|号|卡)",
         r"(号码|这个号|手机号|电话号|号|卡|手机卡|电话卡)(码)?(我)?(不要|不用|不想要|不想用|注销|销)",
         r"不(想|再|打算)?(用|要)(这个|这张|我的|那个)?(号|号码|手机号|卡|手机卡|电话卡)",
         r"(close|cancel|terminate|deactivate|disconnect|shut ?down|end|kill|get rid of|give up|drop)\b.{0,20}\b(number|line|sim|card|phone ?number|mobile number|mobile account|phone account|account|contract)\b",
         r"(number|line|sim)\b.{0,30}\b(closed|terminated|cancell?ed|disconnected|deactivated)",
         r"(don'?t|do not|no longer) (want|need|use) (this|my|that) (number|line|sim|phone number)",
         r"leave (the|your) network", r"switch(ing)? (carrier|operator)s?"]
RENEWAL = [r"自动续费", r"续费", r"续订", r"续期", r"续约", r"自动扣费", r"自动扣款", r"连续包月", r"包月",
           r"(别|不要|不想|别再|不要再|停止|不能再|不许|不准)(再)?(每个?月)?(被)?(自动)?(扣|收|续)", r"不(再)?续(了|费|订|约|期)?",
           r"下(个)?(月|期|年)(就)?(别|不要|不再|不)(扣|收|续)", r"到期(就|后)?(别|不|不要)(续|扣)",
           r"auto.?renew", r"\brenew", r"renewal", r"recurring", r"auto.?pay", r"auto.?debit", r"auto.?charg",
           r"(stop|quit|no more|don'?t keep|do not keep) charg", r"(don'?t|do not|never) charge me",
           r"next (month|year|cycle)", r"billing me every",
           r"(stop|end|cancel|no more)\b.{0,25}\b(monthly|yearly|recurring)\b.{0,20}\b(charge|payment|fee|bill)"]
UNSUBSCRIBE = [r"退订", r"退(一下|掉|了|出)", r"\btd\b", r"取消", r"关(掉|了|闭|停|一下|上)", r"停(掉|了|止|一下)",
               r"不(想|再)?要了", r"不要(这个|那个|它)", r"不(想)?要($|[,.!?，。！？ ])", r"不要.{1,10}了", r"不用了", r"删(掉|了|除)", r"去掉", r"撤(销|掉)", r"注销", r"终止",
               r"拿掉", r"干掉", r"解除", r"不想(再)?(用|要|订)", r"不(再)?需要",
               r"unsub", r"\bcancel", r"\bremove", r"turn (it )?off", r"switch (it )?off", r"\bstop\b", r"get rid",
               r"\bend\b", r"\bquit\b", r"opt.?out", r"\bdrop\b", r"\bkill\b", r"deactivate", r"(don'?t|do not) (want|need)",
               r"no longer (want|need|use)", r"take (it|.{1,30}) off", r"\bditch", r"done with"]
QUERY = [r"查", r"看看", r"什么", r"几个", r"多少", r"看一下", r"有哪些", r"哪些", r"什么业务", r"啥业务", r"都有啥", r"有啥", r"订了什么", r"开了什么",
         r"扣了?什么", r"扣(了)?多少", r"多少钱", r"清单", r"明细", r"列(出|一下)", r"是什么", r"有没有",
         r"\blist\b", r"\bshow\b", r"\bwhat\b", r"\bwhich\b", r"how much", r"\bcheck\b", r"\bview\b", r"tell me",
         r"am i paying", r"do i have", r"overview", r"see my"]
NEW_SERVICE = [r"开通", r"订购", r"办(理)?(一个|个)?(新)", r"充值", r"充话费", r"升级", r"换(个)?套餐", r"加(一个|个)",
               r"\bsubscribe to\b", r"sign me up", r"\bbuy\b", r"top.?up", r"upgrade", r"\badd (a|an|another)\b"]
NEGATED_ACTION = [r"(不要|别|不用|不想|先别)(帮我)?(取消|退订|关|销)", r"(don'?t|do not|never mind|not) (cancel|unsubscribe|close|stop)"]
THIRD_PARTY = [r"(我)?(老婆|老公|妻子|丈夫|爸爸|妈妈|爸|妈|父亲|母亲|儿子|女儿|朋友|同事|邻居|别人|他人|室友|男朋友|女朋友|爷爷|奶奶|哥哥|姐姐|弟弟|妹妹)的",
               r"\bmy (wife|husband|mom|mum|mother|dad|father|son|daughter|friend|boss|colleague|neighbou?r|brother|sister|roommate|partner|grandma|grandpa)'?s\b",
               r"(她|他)的(号|号码|手机|卡|会员|业务)", r"someone else'?s", r"somebody else'?s", r"\b(his|her|their) (number|line|phone|sim|membership|subscription)"]
CONFIRM = {"确认", "是", "是的", "好", "好的", "对", "可以", "行", "没问题", "确定", "嗯", "y", "yes", "ok", "okay",
           "confirm", "confirmed", "sure", "yes please", "go ahead", "do it", "确认办理", "确认退订"}
DECLINE = {"不", "不用", "不用了", "算了", "不要", "否", "先不", "取消操作", "n", "no", "nope", "never mind", "cancel that"}

# Intent keywords that a homophone typo may hide (matched on pinyin as well as on characters).
PINYIN_KEYWORDS = {"unsubscribe": ["退订", "取消", "退掉"], "cancel_renewal": ["续费", "续订", "自动续费", "扣费"],
                   "close_line": ["销户", "销号", "注销号码"], "complaint": ["投诉"], "human": ["人工", "客服"]}
# Latin keywords a typo may hide (matched with a fuzzy ratio on words of 5+ letters).
FUZZY_WORDS = {"unsubscribe": ["unsubscribe", "cancel", "remove"], "cancel_renewal": ["renewal", "renewing", "autorenew", "recurring"],
               "human": ["human", "representative"], "complaint": ["complaint", "complain"], "query": ["subscriptions"]}

# ---- categories: the words that name a kind of product, and how a product's name reveals it --------
CATEGORIES = {
    "video": ["视频", "影视", "追剧", "看剧", "电视剧", "电影", "video", "movie", "film", "tv", "streaming", "drama", "shipin", "yingshi"],
    "music": ["音乐", "听歌", "歌曲", "歌", "music", "song", "songs", "yinyue"],
    "data": ["流量", "加油包", "上网", "数据包", "data", "gb", "booster", "internet", "liuliang"],
    "ringtone": ["彩铃", "铃声", "回铃", "ringback", "ring back", "ringtone", "ring tone", "caller tune", "cailing"],
    "cloud": ["云盘", "网盘", "云存储", "云空间", "cloud", "drive", "storage", "yunpan", "wangpan"],
    "news": ["手机报", "报纸", "新闻", "news", "newspaper"],
    "membership": ["会员", "年卡", "月卡", "vip", "membership", "member", "huiyuan"],
}
# A product name's own words that imply a category (names are matched, never product codes).
# Brands: the partner names customers use, with nicknames, spellings and romanisations.
BRANDS = {
    "腾讯视频": ["腾讯", "腾讯视频", "tencent", "qq视频", "txsp", "企鹅", "tengxun"],
    "爱奇艺": ["爱奇艺", "奇艺", "iqiyi", "iqy", "aiqiyi", "爱艺"],
    "咪咕音乐": ["咪咕", "migu"],
    "百度网盘": ["百度", "baidu", "度盘"],
    "优酷": ["优酷", "youku"],
    "芒果TV": ["芒果", "mango"],
    "QQ音乐": ["qq音乐", "qqmusic"],
    "网易云音乐": ["网易云", "netease"],
}
THIS_NUMBER = [r"这个号", r"本机", r"这张卡", r"当前号码", r"这个手机号", r"this number", r"this line", r"this sim", r"this phone"]
PRIMARY_WORDS = [r"主卡", r"主号", r"main (number|line)", r"primary"]
SECONDARY_WORDS = [r"副卡", r"副号", r"亲情卡", r"second(ary)? (card|line|number|sim)", r"extra (card|line|sim)"]
KEEP_NUMBER_WORDS = [r"保号", r"小号", r"备用", r"keep.?(my|the)?.?number", r"spare", r"backup"]

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def cn_number(text: str) -> int | None:
    """十五 → 15, 八十八 → 88, 五 → 5, 一百 → 100 (the amounts people say for monthly fees)."""
    if not text:
        return None
    if "百" in text:
        head, _, tail = text.partition("百")
        hundreds = _CN_DIGITS.get(head, 1 if head == "" else -1)
        rest = cn_number(tail.lstrip("零")) if tail else 0
        return None if hundreds < 0 or rest is None else hundreds * 100 + rest
    if "十" in text:
        head, _, tail = text.partition("十")
        tens = _CN_DIGITS.get(head, 1 if head == "" else -1)
        ones = _CN_DIGITS.get(tail, 0 if tail == "" else -1)
        return None if tens < 0 or ones < 0 else tens * 10 + ones
    if len(text) == 1 and text in _CN_DIGITS:
        return _CN_DIGITS[text]
    return None


PRICE_PATTERNS = [
    re.compile(r"(?:¥|￥|rmb|cny)\s*(\d+(?:\.\d{1,2})?)"),
    re.compile(r"(\d+(?:\.\d{1,2})?)\s*(?:块钱|块|元|圆|rmb|yuan|kuai|bucks|cny|dollars?)"),
    re.compile(r"([零〇一二两三四五六七八九十百]+)\s*(?:块钱|块|元)"),
    re.compile(r"(?:每月|每年|一个月|一年|每个月|月费|年费|a month|a year|per month|per year)\s*(\d+(?:\.\d{1,2})?)(?!\d)"),
]


# `\b` next to a Chinese character is no boundary (both are word characters): "music那个", "td彩铃".
# Latin words here are bounded by what is not a Latin letter or digit instead.
ASCII_B = r"(?:(?<![a-z0-9])(?=[a-z0-9])|(?<=[a-z0-9])(?![a-z0-9]))"


def compile_all(patterns: list[str]) -> list[re.Pattern]:
    return [re.compile(p.replace(r"\b", ASCII_B)) for p in patterns]
