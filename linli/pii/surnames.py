"""Chinese surnames and given-name characters: what the name rules in linli.pii look for."""

from __future__ import annotations

from typing import Final

# Common surnames, minus those that mostly end ordinary words before an honorific (保安队长, 对门阿姨, 维修师傅,
# 社区医生, 语文老师, 音乐老师, 收费大姐, 开车师傅, 公司经理, 邻居阿姨, 原经理, 祝老师节日快乐...).
SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤温康施牛樊"
    "葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左柳甘宁尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳柴"
    "蒙鲍喻祁蒲滕屈饶牟艾尤穆卓吉缪简娄窦戚岑景宫冷晏席米柏宗瞿桂佟臧闵苟邬卞姬仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩"
    "佘池迟邝封谈匡鞠惠荆冀郁胥储栗燕楚鄢劳谌奚粟冼蔺闻厉伊"
)
# A bare name (no honorific after it) has context of its own to decide, so surnames that are common word starts
# (关门, 常年, 华灯, 向物业, 路灯) may start one too: 关晓彤家的狗, 常建国已修补. 楚 abbreviates Hubei in place names.
BARE_NAME_SURNAMES: Final = SURNAMES.replace("楚", "") + "关常华向路洪包邬丰"
COMPOUND_SURNAMES: Final = ("欧阳", "司马", "诸葛", "上官", "慕容", "皇甫", "夏侯", "司徒", "东方", "公孙", "令狐")
# Words that begin with a surname (高度, 方面, 张贴, 周边, 任课...): never the start of a full name.
SURNAME_WORDS: Final = (
    "顾虑|钱款|温馨|冷静|齐心|高级|高达|高中|高调|高度|高层|高楼|高空|万名|万一|严查|严重|严格|"
    "劳烦|纪检|任意|任职|任课|任务|任何|凌晨|方面|方便|方向|方式|方法|方案|白天|白色|马路|马上|"
    "周边|周围|周末|黄色|金额|江边|江湖|石头|常常|于是|钱包|何时|何况|程序|陈旧|孙子|张贴|龙头|"
    "曾经|宁可|申请|毛病|叶子|田地|林子|苏醒|雷雨|余额|齐全|温度|康复|贺卡|童年|冷气|米饭|简单|"
    "简直|甘心|尤其|左边|左右|柴油|沙发|燕子|谈判|闻到|惠民|宫殿|景观|盛开|谷物|迟到|封闭|牛奶|"
    "杨树|杜绝"
)
# Surnames that 老X / 小X nicknames are built from.
NICK_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢姜崔钟"
    "谭陆汪范金廖贾夏付傅邹孟熊秦邱江尹薛闫段雷侯龙陶黎贺顾郝龚邵钱严武戴孔汤康施葛邢齐乔庞颜倪庄聂鲁岳翟殷詹"
    "耿焦俞柳舒阮柯梅童凌毕霍涂方"
)
# Characters that do not occur inside a given name but do follow one: verbs, particles, places, numerals.
NOT_IN_GIVEN_NAME: Final = (
    "的说在是和跟也又把被给对等不都就还已要了着过们楼号栋幢室单门路区层里上下前后这那个位次天年月日时点分家反投称"
    "表讲问告找让请帮从每经总今昨最打来去到住多两先女谢同与及将会能可曾很太他她我你它物业委社街道司部局所站队组科"
    "处院校厂店工边围级姓籍名电客控村教竟抓劣介因用领为谈操一二三四五六七八九十零百千万"
)
# Characters common in given names. A two-character name (张伟, 韩冬) needs its one given character from here; in a
# three-character name one of the two is enough (赵国强, 欧阳丽娜).
GIVEN_NAME_CHARS: Final = frozenset(
    "花香娣妹根伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰华建国志红玉梅凤琴云萍燕晓东海波斌宇浩凯健俊帆帅旭宁"
    "鹏飞鑫鸿亮峰辉雪莉琳婷婉雯倩欣怡佳慧颖洁晶晶莹璐露雨彤瑶琪琦蕾薇珊珍珠翠翔龙虎豹雄威武文斌彬杨林森松柏"
    "春夏秋冬梦丹红青蓝紫金银铁钢锋铭锐锦鑫新昕晨曦阳光亮明朗辰星月日天宏洪泽涵润清源江河湖川山岳峰岩石磊"
    "立成功利民生荣昌盛兴旺福禄寿喜德仁义礼智信忠孝廉勤俭良善厚实诚真正直安康宁静泰和平顺祥瑞吉庆嘉佳美好"
    "秀丽娇媛嫣娴婧妍姗姝娅妮娥媚姣雅琼瑾瑜璇瑛琬璐珺玲珑环佩茹芸芬芝芹苗英荷莲菊兰蓉萱蕊薇苑竹梓楠桐枫桦"
    "家国邦宗祖世继承传永长远久恒坤乾元亨晋鼎铮钧锡镇振震霖雷霆电风云烟霏霄凌宵航舟帆远达通畅博文武斌彦"
    "俊杰豪英贤能才智慧聪敏捷勇毅刚强壮硕宽宏广阔展望思念想怀忆恩惠爱心情意志远卓越超群冠军奇特殊非凡"
    "子少小大中一之乐欢悦喜笑怡然自若若如依伊艾爱蔼霭丁卫东宝贵富财发振兴旺福禄寿全冰晴芷沁"
    "艺潇诗曼歌俪圆泉昆恬言甜溢米进勤涵宪庭唯茜淼淇琛晗轩宸睿泓澜沐芊菲萌婕妤馨彩灿烁煜炜熙焕晖昊昱晟暄曜"
    "凡弘钰锴柱栓娃招弟来为同天可能道德勋铭铸键钊彪虎豪骏驰腾跃奔朋友谊爽朗琨瑶珏瑞璋琦琰璟珂珮莎"
)
