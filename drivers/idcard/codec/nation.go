package codec

// nations is GB/T 3304 as listed in the brief (§1.8); read-only. Index i
// holds code i+1 for 01..56.
var nations = [56]string{
	"汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜",
	"满", "侗", "瑶", "白", "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳",
	"佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇", "柯尔克孜", "土",
	"达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米",
	"塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔",
	"独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
}

// NationName gives the name for a two-digit nation code ("01" → 汉). The
// card prints the name with 族 appended except for 97 and 98.
func NationName(code string) (string, bool) {
	switch code {
	case "97":
		return "其他", true
	case "98":
		return "外国血统中国籍人士", true
	}
	if len(code) != 2 || code[0] < '0' || code[0] > '9' || code[1] < '0' || code[1] > '9' {
		return "", false
	}
	n := int(code[0]-'0')*10 + int(code[1]-'0')
	if n < 1 || n > len(nations) {
		return "", false
	}
	return nations[n-1], true
}
