package refplatform

import (
	"time"

	"tongban/kiosk/uplink"
)

// SAMPLE DATA. The directory below is made up for the reference platform,
// after the structure of the notice's 《"县乡通办"事项指导目录》 (49
// matters, each with power type, delegating county department,
// supervising department and delegation mode). The notice names only a
// few of its matters (sole-trader and company registration, construction
// and rural planning permits, water/electricity/gas/heating bills); the
// others are typical county matters of such lists. Departments, addresses,
// phone numbers, hours, materials and forms are illustrative, not any
// county's real list. Catalog.Sample is true on every reply.

var sampleNotice = uplink.Text{
	Zh: "样例数据：参照《“县乡通办”事项指导目录》编制的演示清单，非真实事项清单。",
	En: "Sample data: a demo list modelled on the county-and-township directory, not a real list.",
}

// County departments (县区赋权部门 / 对应监管部门).
var (
	deptApproval  = uplink.Text{Zh: "县行政审批服务局", En: "County Administrative Approval Bureau"}
	deptMarket    = uplink.Text{Zh: "县市场监督管理局", En: "County Market Supervision Administration"}
	deptHousing   = uplink.Text{Zh: "县住房和城乡建设局", En: "County Housing and Urban-Rural Development Bureau"}
	deptLand      = uplink.Text{Zh: "县自然资源和规划局", En: "County Natural Resources and Planning Bureau"}
	deptFarm      = uplink.Text{Zh: "县农业农村局", En: "County Agriculture and Rural Affairs Bureau"}
	deptCivil     = uplink.Text{Zh: "县民政局", En: "County Civil Affairs Bureau"}
	deptVeterans  = uplink.Text{Zh: "县退役军人事务局", En: "County Veterans Affairs Bureau"}
	deptHR        = uplink.Text{Zh: "县人力资源和社会保障局", En: "County Human Resources and Social Security Bureau"}
	deptMedical   = uplink.Text{Zh: "县医疗保障局", En: "County Healthcare Security Bureau"}
	deptHealth    = uplink.Text{Zh: "县卫生健康局", En: "County Health Commission"}
	deptDisabled  = uplink.Text{Zh: "县残疾人联合会", En: "County Disabled Persons' Federation"}
	deptPolice    = uplink.Text{Zh: "县公安局", En: "County Public Security Bureau"}
	deptEducation = uplink.Text{Zh: "县教育和体育局", En: "County Education and Sports Bureau"}
	deptWater     = uplink.Text{Zh: "县水务局", En: "County Water Affairs Bureau"}
	deptEnforce   = uplink.Text{Zh: "县综合行政执法局", En: "County Comprehensive Law Enforcement Bureau"}
	deptDevelop   = uplink.Text{Zh: "县发展和改革局", En: "County Development and Reform Bureau"}
	deptSeniors   = uplink.Text{Zh: "县老龄工作委员会办公室", En: "County Office on Ageing"}
)

// Reasons a matter cannot be handled at a terminal.
var (
	whyOnSite     = uplink.Text{Zh: "需现场核查（勘验），请到便民服务中心办理", En: "Needs an on-site inspection: apply at the service centre"}
	whyOriginals  = uplink.Text{Zh: "需当面核验原件并签字，请到便民服务中心办理", En: "Originals must be checked and signed in person: apply at the service centre"}
	whyAssessment = uplink.Text{Zh: "需现场评定或鉴定，请到便民服务中心办理", En: "Needs an in-person assessment: apply at the service centre"}
	whyInterview  = uplink.Text{Zh: "需面谈并核验原件，请到便民服务中心办理", En: "Needs an interview and the originals: apply at the service centre"}
	whyPhoto      = uplink.Text{Zh: "需现场采集照片和指纹，请到便民服务中心办理", En: "Photo and fingerprints are taken at the service centre"}
)

// Licence types of the sample electronic licences (电子证照).
const (
	licHousehold = "householdRegister"
	licBusiness  = "businessLicence"
	licProperty  = "propertyCert"
	licDisabled  = "disabilityCert"
	licMarriage  = "marriageCert"
	licDriver    = "driverLicence"
)

func txt(zh, en string) uplink.Text { return uplink.Text{Zh: zh, En: en} }

// Materials.
func matIDCard() uplink.Material {
	return uplink.Material{MaterialID: "idCard", Name: txt("申请人居民身份证", "Applicant's ID card"), Required: true, Source: uplink.MaterialIDCard}
}

func matForm(zh, en string) uplink.Material {
	return uplink.Material{MaterialID: "form", Name: txt(zh, en), Required: true, Source: uplink.MaterialForm}
}

func matLicence(id, typ, zh, en string, required bool) uplink.Material {
	return uplink.Material{MaterialID: id, Name: txt(zh, en), Required: required, Source: uplink.MaterialLicence, LicenceType: typ}
}

func matHousehold() uplink.Material {
	return matLicence("householdRegister", licHousehold, "居民户口簿", "Household register", true)
}

func matInPerson(id, zh, en string) uplink.Material {
	return uplink.Material{MaterialID: id, Name: txt(zh, en), Required: true, Source: uplink.MaterialInPerson}
}

// Form fields.
func field(id, zh, en string, t uplink.FieldType, required bool, prefill string, opts ...uplink.FieldOption) uplink.FormField {
	return uplink.FormField{FieldID: id, Label: txt(zh, en), Type: t, Required: required, Prefill: prefill, Options: opts}
}

func opt(v, zh, en string) uplink.FieldOption {
	return uplink.FieldOption{Value: v, Label: txt(zh, en)}
}

func fAddress() uplink.FormField {
	return field("address", "户籍地址", "Registered address", uplink.FieldText, true, uplink.PrefillCardAddress)
}

func fPhone() uplink.FormField {
	return field("phone", "联系电话", "Phone", uplink.FieldPhone, true, uplink.PrefillHistoryPhone)
}

func fResidence() uplink.FormField {
	return field("residence", "现居住地址", "Current residence", uplink.FieldText, true, uplink.PrefillHistoryResidence)
}

func fText(id, zh, en string) uplink.FormField { return field(id, zh, en, uplink.FieldText, true, "") }

func fDate(id, zh, en string, required bool) uplink.FormField {
	return field(id, zh, en, uplink.FieldDate, required, "")
}

// Matter constructors. Counter matters get Where from the township.
func applyMatter(id string, no int, name uplink.Text, p uplink.PowerType, dept, sup uplink.Text, mode uplink.DelegationMode,
	days int, mats []uplink.Material, fields ...uplink.FormField) uplink.Matter {
	return uplink.Matter{MatterID: id, DirectoryNo: no, Name: name, PowerType: p, Department: dept, Supervisor: sup, Mode: mode,
		Channel: uplink.ChannelApply, PromisedDays: days, Materials: mats, Fields: fields}
}

func counterMatter(id string, no int, name uplink.Text, p uplink.PowerType, dept, sup uplink.Text, mode uplink.DelegationMode,
	days int, why uplink.Text, mats ...uplink.Material) uplink.Matter {
	return uplink.Matter{MatterID: id, DirectoryNo: no, Name: name, PowerType: p, Department: dept, Supervisor: sup, Mode: mode,
		Channel: uplink.ChannelCounter, PromisedDays: days, Materials: mats, Fields: []uplink.FormField{},
		Counter: &uplink.CounterInfo{Reason: why}}
}

func payMatter(id string, no int, name uplink.Text, dept uplink.Text, u uplink.Utility) uplink.Matter {
	return uplink.Matter{MatterID: id, DirectoryNo: no, Name: name, PowerType: uplink.PowerPublicService, Department: dept,
		Supervisor: dept, Mode: uplink.DelegationHandling, Channel: uplink.ChannelPay, Utility: u, PromisedDays: 0,
		Materials: []uplink.Material{{MaterialID: "account", Name: txt("缴费户号或缴费通知单（条码）", "Account number or the bill's barcode"),
			Required: true, Source: uplink.MaterialForm}},
		Fields: []uplink.FormField{}}
}

const (
	handling   = uplink.DelegationHandling
	acceptance = uplink.DelegationAcceptance
)

// sampleDirectory is the 49 matters of the directory and the extra county
// matters (DirectoryNo 0) that township lists may add.
func sampleDirectory() []uplink.Matter {
	var (
		lic  = uplink.PowerLicensing
		conf = uplink.PowerConfirmation
		ben  = uplink.PowerBenefit
		pub  = uplink.PowerPublicService
		oth  = uplink.PowerOther
	)
	scopes := []uplink.FieldOption{opt("retail", "零售", "Retail"), opt("catering", "餐饮", "Catering"),
		opt("services", "居民服务", "Personal services"), opt("repair", "修理", "Repairs"), opt("processing", "加工", "Processing")}
	household := field("householdSize", "家庭人口数", "Household members", uplink.FieldSelect, true, "",
		opt("1", "1人", "1"), opt("2", "2人", "2"), opt("3", "3人", "3"), opt("4", "4人", "4"), opt("5", "5人", "5"), opt("6plus", "6人及以上", "6 or more"))
	return []uplink.Matter{
		// 市场主体 (market entities)
		applyMatter("sole-trader-register", 1, txt("个体工商户设立登记", "Sole trader registration"), lic, deptApproval, deptMarket, handling, 1,
			[]uplink.Material{matIDCard(), matForm("个体工商户设立登记申请书", "Registration application"),
				matLicence("premises", licProperty, "经营场所使用证明（不动产权证书）", "Proof of premises (property certificate)", true)},
			fText("businessName", "个体工商户名称（字号）", "Business name"),
			field("businessScope", "经营范围", "Line of business", uplink.FieldSelect, true, "", scopes...),
			fText("businessAddress", "经营场所", "Business premises"),
			fPhone(),
			fDate("startDate", "计划开业日期", "Planned opening date", false)),
		applyMatter("sole-trader-change", 2, txt("个体工商户变更登记", "Sole trader change of registration"), lic, deptApproval, deptMarket, handling, 1,
			[]uplink.Material{matIDCard(), matForm("个体工商户变更登记申请书", "Change application"),
				matLicence("businessLicence", licBusiness, "营业执照", "Business licence", true)},
			field("changeItem", "变更事项", "What changes", uplink.FieldSelect, true, "",
				opt("name", "名称", "Name"), opt("premises", "经营场所", "Premises"), opt("scope", "经营范围", "Line of business"), opt("operator", "经营者", "Operator")),
			fText("changeTo", "变更后内容", "New entry"),
			fPhone()),
		applyMatter("sole-trader-deregister", 3, txt("个体工商户注销登记", "Sole trader deregistration"), lic, deptApproval, deptMarket, handling, 1,
			[]uplink.Material{matIDCard(), matForm("个体工商户注销登记申请书", "Deregistration application"),
				matLicence("businessLicence", licBusiness, "营业执照", "Business licence", true)},
			field("cancelReason", "注销原因", "Reason", uplink.FieldSelect, true, "",
				opt("closed", "停止经营", "Business closed"), opt("moved", "迁出本县", "Moved away"), opt("other", "其他", "Other")),
			fDate("closedOn", "停业日期", "Date of closure", true),
			fPhone()),
		counterMatter("company-register", 4, txt("企业设立登记", "Company registration"), lic, deptApproval, deptMarket, acceptance, 3, whyOriginals,
			matIDCard(), matInPerson("articles", "公司章程（全体股东签字）", "Articles of association signed by all shareholders"),
			matInPerson("premises", "住所使用证明", "Proof of registered address")),
		counterMatter("company-change", 5, txt("企业变更（备案）登记", "Company change of registration"), lic, deptApproval, deptMarket, acceptance, 3, whyOriginals,
			matIDCard(), matInPerson("resolution", "股东会决议或决定", "Shareholders' resolution"), matLicence("businessLicence", licBusiness, "营业执照", "Business licence", true)),
		counterMatter("company-deregister", 6, txt("企业注销登记", "Company deregistration"), lic, deptApproval, deptMarket, acceptance, 3, whyOriginals,
			matIDCard(), matInPerson("liquidation", "清算报告", "Liquidation report"), matLicence("businessLicence", licBusiness, "营业执照", "Business licence", true)),
		counterMatter("coop-register", 7, txt("农民专业合作社设立登记", "Farmers' cooperative registration"), lic, deptApproval, deptMarket, acceptance, 3, whyOriginals,
			matIDCard(), matInPerson("members", "成员名册及出资清单", "Member roll and contributions"), matInPerson("charter", "合作社章程", "Charter")),
		applyMatter("prepacked-food-filing", 8, txt("仅销售预包装食品备案", "Filing for selling pre-packed food only"), oth, deptApproval, deptMarket, handling, 0,
			[]uplink.Material{matIDCard(), matForm("仅销售预包装食品经营者备案信息采集表", "Filing form"),
				matLicence("businessLicence", licBusiness, "营业执照", "Business licence", true)},
			fText("businessName", "经营者名称", "Business name"),
			fText("businessAddress", "经营场所", "Premises"),
			fPhone()),
		counterMatter("small-catering", 9, txt("小餐饮登记", "Small catering registration"), lic, deptApproval, deptMarket, acceptance, 10, whyOnSite,
			matIDCard(), matLicence("businessLicence", licBusiness, "营业执照", "Business licence", true), matInPerson("health", "从业人员健康证明", "Staff health certificates")),
		counterMatter("food-workshop", 10, txt("食品小作坊登记", "Small food workshop registration"), lic, deptApproval, deptMarket, acceptance, 15, whyOnSite,
			matIDCard(), matInPerson("layout", "生产场所平面布局图", "Floor plan of the workshop")),

		// 建设规划 (construction and planning)
		counterMatter("construction-permit", 11, txt("建筑工程施工许可证核发", "Construction permit"), lic, deptApproval, deptHousing, acceptance, 7, whyOriginals,
			matInPerson("landUse", "用地批准手续", "Land-use approval"), matInPerson("drawings", "施工图设计文件审查合格书", "Approved construction drawings"),
			matInPerson("contract", "施工合同", "Construction contract")),
		counterMatter("rural-planning-permit", 12, txt("乡村建设规划许可证核发", "Rural construction planning permit"), lic, deptApproval, deptLand, acceptance, 20, whyOnSite,
			matIDCard(), matHousehold(), matInPerson("sitePlan", "建设工程设计方案或农房通用图", "Building design or standard farmhouse plan")),

		// 农业农村、林业 (agriculture, forestry)
		counterMatter("farm-machinery-subsidy", 13, txt("农机购置补贴申请", "Farm machinery purchase subsidy"), ben, deptFarm, deptFarm, acceptance, 30, whyOnSite,
			matIDCard(), matInPerson("invoice", "购机发票原件", "Original purchase invoice")),
		applyMatter("farmland-subsidy", 14, txt("耕地地力保护补贴申报", "Farmland protection subsidy"), ben, deptFarm, deptFarm, handling, 20,
			[]uplink.Material{matIDCard(), matForm("耕地地力保护补贴申报表", "Subsidy declaration"), matHousehold()},
			fText("village", "所在村（社区）", "Village"),
			fText("area", "承包耕地面积（亩）", "Contracted farmland (mu)"),
			fPhone()),
		counterMatter("animal-epidemic-cert", 15, txt("动物防疫条件合格证核发", "Animal epidemic prevention certificate"), lic, deptApproval, deptFarm, acceptance, 20, whyOnSite,
			matIDCard(), matInPerson("layout", "场所平面图及设施设备清单", "Site plan and equipment list")),
		counterMatter("tree-felling-permit", 16, txt("林木采伐许可证核发", "Tree felling permit"), lic, deptApproval, deptLand, handling, 5, whyOnSite,
			matIDCard(), matInPerson("ownership", "林木权属证明", "Proof of ownership of the trees")),

		// 民政 (civil affairs)
		applyMatter("minimum-living", 17, txt("最低生活保障审核确认", "Minimum living allowance (dibao)"), ben, deptCivil, deptCivil, handling, 30,
			[]uplink.Material{matIDCard(), matForm("最低生活保障申请书及家庭经济状况核对授权书", "Application and consent to check household finances"), matHousehold()},
			field("householder", "户主姓名", "Head of household", uplink.FieldText, true, uplink.PrefillCardName),
			field("householderIdNumber", "户主身份证号", "ID number of the head of household", uplink.FieldIDNumber, true, uplink.PrefillCardIDNumber),
			fAddress(), fPhone(), household,
			fText("monthlyIncome", "家庭月总收入（元）", "Household monthly income (yuan)"),
			field("spouseIdNumber", "配偶身份证号", "Spouse's ID number", uplink.FieldIDNumber, false, "")),
		applyMatter("extreme-poverty-support", 18, txt("特困人员救助供养审核确认", "Support for people in extreme poverty"), ben, deptCivil, deptCivil, handling, 20,
			[]uplink.Material{matIDCard(), matForm("特困人员救助供养申请书", "Application"), matHousehold()},
			fAddress(), fPhone(),
			field("careMode", "供养方式", "Form of support", uplink.FieldSelect, true, "",
				opt("home", "分散供养（在家）", "At home"), opt("institution", "集中供养（敬老院）", "In a care home"))),
		applyMatter("temporary-assistance", 19, txt("临时救助审批", "Temporary assistance"), ben, deptCivil, deptCivil, handling, 10,
			[]uplink.Material{matIDCard(), matForm("临时救助申请书", "Application"), matHousehold(),
				matInPerson("evidence", "困难情况证明材料（出件时核验）", "Evidence of the hardship (checked at pickup)")},
			fResidence(), fPhone(),
			field("cause", "困难原因", "Cause", uplink.FieldSelect, true, "",
				opt("illness", "疾病", "Illness"), opt("accident", "意外事故", "Accident"), opt("disaster", "自然灾害", "Natural disaster"), opt("other", "其他", "Other"))),
		applyMatter("disability-allowances", 20, txt("残疾人两项补贴审核", "Disability living and nursing allowances"), ben, deptCivil, deptDisabled, handling, 15,
			[]uplink.Material{matIDCard(), matForm("残疾人两项补贴申请审批表", "Application"),
				matLicence("disabilityCert", licDisabled, "残疾人证", "Disability certificate", true), matHousehold()},
			fResidence(), fPhone(),
			field("grade", "残疾等级", "Disability grade", uplink.FieldSelect, true, "",
				opt("1", "一级", "Grade 1"), opt("2", "二级", "Grade 2"), opt("3", "三级", "Grade 3"), opt("4", "四级", "Grade 4"))),
		applyMatter("senior-allowance", 21, txt("80周岁以上老年人高龄津贴申领", "Allowance for residents aged 80 and over"), ben, deptCivil, deptCivil, handling, 10,
			[]uplink.Material{matIDCard(), matHousehold()},
			fResidence(), fPhone()),
		applyMatter("funeral-subsidy", 22, txt("惠民殡葬补贴申领", "Funeral subsidy"), ben, deptCivil, deptCivil, handling, 10,
			[]uplink.Material{matIDCard(), matForm("惠民殡葬补贴申请表", "Application"),
				matInPerson("cremation", "火化证明原件（出件时核验）", "Original cremation certificate (checked at pickup)")},
			fText("deceasedName", "逝者姓名", "Name of the deceased"),
			field("deceasedIdNumber", "逝者身份证号", "ID number of the deceased", uplink.FieldIDNumber, true, ""),
			fDate("dateOfDeath", "死亡日期", "Date of death", true),
			fPhone()),

		// 退役军人 (veterans)
		applyMatter("conscript-family-allowance", 23, txt("义务兵家庭优待金申领", "Allowance for conscripts' families"), ben, deptVeterans, deptVeterans, handling, 15,
			[]uplink.Material{matIDCard(), matHousehold(), matInPerson("enlistment", "入伍通知书（出件时核验）", "Enlistment notice (checked at pickup)")},
			fText("soldierName", "义务兵姓名", "Conscript's name"),
			field("soldierIdNumber", "义务兵身份证号", "Conscript's ID number", uplink.FieldIDNumber, true, ""),
			fDate("enlistedOn", "入伍日期", "Date of enlistment", true),
			fPhone()),

		// 人力资源和社会保障 (human resources and social security)
		applyMatter("pension-enroll", 24, txt("城乡居民基本养老保险参保登记", "Residents' basic pension enrolment"), pub, deptHR, deptHR, handling, 0,
			[]uplink.Material{matIDCard(), matHousehold()},
			field("gender", "性别", "Gender", uplink.FieldSelect, true, uplink.PrefillCardGender, opt("male", "男", "Male"), opt("female", "女", "Female")),
			field("birthDate", "出生日期", "Date of birth", uplink.FieldDate, true, uplink.PrefillCardBirthDate),
			fAddress(), fPhone(),
			field("grade", "缴费档次（元/年）", "Yearly contribution (yuan)", uplink.FieldSelect, true, "",
				opt("200", "200元", "200"), opt("500", "500元", "500"), opt("1000", "1000元", "1000"), opt("2000", "2000元", "2000"), opt("5000", "5000元", "5000"))),
		applyMatter("pension-claim", 25, txt("城乡居民养老保险待遇申领", "Residents' pension claim"), ben, deptHR, deptHR, handling, 5,
			[]uplink.Material{matIDCard(), matForm("城乡居民基本养老保险待遇申领表", "Claim form")},
			fResidence(), fPhone(),
			fDate("from", "申请领取起始日期", "Claim from", true)),
		applyMatter("pension-transfer", 26, txt("城乡居民基本养老保险关系转移接续", "Transfer of residents' pension"), pub, deptHR, deptHR, acceptance, 15,
			[]uplink.Material{matIDCard(), matForm("城乡居民基本养老保险关系转入申请表", "Transfer application")},
			fText("fromPlace", "转出地（省市县）", "Transferred from (province, city, county)"),
			fPhone()),
		applyMatter("employment-card", 27, txt("就业创业证申领", "Employment and entrepreneurship certificate"), pub, deptHR, deptHR, handling, 0,
			[]uplink.Material{matIDCard()},
			fResidence(), fPhone(),
			field("situation", "就业状态", "Situation", uplink.FieldSelect, true, "",
				opt("unemployed", "失业", "Unemployed"), opt("selfEmployed", "自主创业", "Self-employed"), opt("flexible", "灵活就业", "Flexible work"))),
		applyMatter("unemployment-register", 28, txt("失业登记", "Unemployment registration"), pub, deptHR, deptHR, handling, 0,
			[]uplink.Material{matIDCard(), matInPerson("termination", "解除或终止劳动合同证明（出件时核验）", "Proof that the job ended (checked at pickup)")},
			field("employer", "原工作单位", "Last employer", uplink.FieldText, true, uplink.PrefillHistoryEmployer),
			fDate("leftOn", "离职日期", "Date of leaving", true),
			fResidence(), fPhone()),
		counterMatter("startup-loan", 29, txt("创业担保贷款申请", "Start-up guaranteed loan"), ben, deptHR, deptHR, acceptance, 15, whyInterview,
			matIDCard(), matLicence("businessLicence", licBusiness, "营业执照", "Business licence", true), matInPerson("plan", "创业项目计划书", "Business plan")),
		applyMatter("social-security-card", 30, txt("社会保障卡申领", "Social security card"), pub, deptHR, deptHR, handling, 7,
			[]uplink.Material{matIDCard()},
			field("kind", "申领类型", "Kind", uplink.FieldSelect, true, "",
				opt("new", "首次申领", "First card"), opt("replace", "挂失补领", "Replacement"), opt("renew", "到期换领", "Renewal")),
			fResidence(), fPhone()),
		applyMatter("flexible-worker-enroll", 31, txt("灵活就业人员参保登记", "Pension enrolment for flexible workers"), pub, deptHR, deptHR, handling, 0,
			[]uplink.Material{matIDCard()},
			fDate("from", "参保起始日期", "Insured from", true),
			fResidence(), fPhone()),

		// 医疗保障 (healthcare security)
		applyMatter("medical-insurance-enroll", 32, txt("城乡居民基本医疗保险参保登记", "Residents' medical insurance enrolment"), pub, deptMedical, deptMedical, handling, 0,
			[]uplink.Material{matIDCard(), matHousehold()},
			field("year", "参保年度", "Year", uplink.FieldSelect, true, "", opt("2026", "2026年度", "2026"), opt("2027", "2027年度", "2027")),
			fAddress(), fPhone()),
		applyMatter("medical-out-of-area", 33, txt("异地就医备案", "Registering medical treatment in another area"), pub, deptMedical, deptMedical, handling, 0,
			[]uplink.Material{matIDCard()},
			fText("destination", "就医地（省市）", "Where (province, city)"),
			field("reason", "备案类型", "Reason", uplink.FieldSelect, true, "",
				opt("resident", "异地长期居住", "Living there"), opt("referral", "转诊转院", "Referral"), opt("temporary", "临时外出就医", "Temporary stay")),
			fDate("from", "开始日期", "From", true),
			fPhone()),
		counterMatter("chronic-disease-benefit", 34, txt("门诊慢特病待遇认定", "Outpatient chronic disease benefit"), conf, deptMedical, deptMedical, acceptance, 30, whyAssessment,
			matIDCard(), matInPerson("records", "近期病历及检查报告原件", "Recent medical records and test reports")),
		counterMatter("maternity-benefit", 35, txt("生育医疗费用报销", "Maternity medical expenses"), ben, deptMedical, deptMedical, acceptance, 20, whyOriginals,
			matIDCard(), matInPerson("receipts", "医疗费用原始票据", "Original medical receipts")),

		// 卫生健康 (health)
		applyMatter("family-planning-reward", 36, txt("农村部分计划生育家庭奖励扶助对象确认", "Rural family planning reward"), conf, deptHealth, deptHealth, handling, 30,
			[]uplink.Material{matIDCard(), matHousehold(), matLicence("marriageCert", licMarriage, "结婚证", "Marriage certificate", true)},
			field("children", "子女数", "Children", uplink.FieldSelect, true, "", opt("1", "1个", "1"), opt("2", "2个（均为女儿）", "2 (both daughters)")),
			fAddress(), fPhone()),
		applyMatter("birth-registration", 37, txt("生育登记", "Birth registration"), pub, deptHealth, deptHealth, handling, 0,
			[]uplink.Material{matIDCard(), matLicence("marriageCert", licMarriage, "结婚证", "Marriage certificate", false)},
			field("order", "生育孩次", "Which child", uplink.FieldSelect, true, "", opt("1", "一孩", "First"), opt("2", "二孩", "Second"), opt("3", "三孩", "Third")),
			fDate("due", "预产期", "Due date", false),
			field("spouseIdNumber", "配偶身份证号", "Spouse's ID number", uplink.FieldIDNumber, false, ""),
			fPhone()),
		counterMatter("public-venue-hygiene", 38, txt("公共场所卫生许可", "Public venue hygiene permit"), lic, deptApproval, deptHealth, acceptance, 15, whyOnSite,
			matIDCard(), matLicence("businessLicence", licBusiness, "营业执照", "Business licence", true), matInPerson("layout", "卫生设施布局平面图", "Floor plan of hygiene facilities")),

		// 残联、公安、教育 (disabled persons, police, education)
		counterMatter("disability-cert", 39, txt("残疾人证新办", "Disability certificate"), conf, deptDisabled, deptDisabled, acceptance, 30, whyAssessment,
			matIDCard(), matHousehold(), matInPerson("photo", "近期两寸白底彩色照片", "Two recent passport photos")),
		counterMatter("residence-permit", 40, txt("居住证申领", "Residence permit"), pub, deptPolice, deptPolice, acceptance, 15, whyPhoto,
			matIDCard(), matInPerson("tenancy", "居住证明（租赁合同等）", "Proof of residence (tenancy agreement)")),
		applyMatter("no-criminal-record", 41, txt("无犯罪记录证明开具", "Certificate of no criminal record"), pub, deptPolice, deptPolice, acceptance, 3,
			[]uplink.Material{matIDCard(), matForm("无犯罪记录证明申请表", "Application")},
			field("purpose", "证明用途", "Purpose", uplink.FieldSelect, true, "",
				opt("job", "就业", "Employment"), opt("study", "升学", "Study"), opt("visa", "出国（境）", "Travel abroad"), opt("other", "其他", "Other")),
			fPhone()),
		applyMatter("student-aid", 42, txt("家庭经济困难学生资助申请", "Aid for students from low-income families"), ben, deptEducation, deptEducation, acceptance, 20,
			[]uplink.Material{matIDCard(), matForm("家庭经济困难学生认定申请表", "Application"), matHousehold()},
			fText("studentName", "学生姓名", "Student's name"),
			field("studentIdNumber", "学生身份证号", "Student's ID number", uplink.FieldIDNumber, true, ""),
			fText("school", "就读学校", "School"),
			fPhone()),

		// 自然资源、水务、城管 (land, water, urban management)
		applyMatter("property-record-query", 43, txt("不动产登记资料查询", "Real estate register extract"), pub, deptLand, deptLand, acceptance, 1,
			[]uplink.Material{matIDCard()},
			fText("property", "不动产坐落", "Location of the property"),
			field("purpose", "查询用途", "Purpose", uplink.FieldSelect, true, "",
				opt("loan", "贷款", "Loan"), opt("school", "入学", "School place"), opt("lawsuit", "诉讼", "Lawsuit"), opt("other", "其他", "Other")),
			fPhone()),
		counterMatter("water-abstraction-permit", 44, txt("取水许可", "Water abstraction permit"), lic, deptApproval, deptWater, acceptance, 20, whyOnSite,
			matIDCard(), matInPerson("report", "取水用途和水源论证材料", "Water use and source report")),
		counterMatter("road-occupation-permit", 45, txt("临时占用城市道路审批", "Temporary road occupation permit"), lic, deptApproval, deptEnforce, acceptance, 5, whyOnSite,
			matIDCard(), matInPerson("plan", "占道位置平面图", "Site plan of the occupation")),

		// 生活缴费 (utility bills), paid at the terminal through the bill flow
		payMatter("water-bill", 46, txt("水费缴纳", "Water bill"), deptWater, uplink.Water),
		payMatter("electricity-bill", 47, txt("电费缴纳", "Electricity bill"), deptDevelop, uplink.Electricity),
		payMatter("gas-bill", 48, txt("燃气费缴纳", "Gas bill"), deptHousing, uplink.Gas),
		payMatter("heating-bill", 49, txt("暖气费缴纳", "Heating bill"), deptHousing, uplink.Heating),

		// Extra county matters (办件量大、群众需求高, outside the directory).
		applyMatter("x-senior-card", 0, txt("老年人优待证办理", "Senior citizen card"), pub, deptSeniors, deptCivil, handling, 5,
			[]uplink.Material{matIDCard(), matInPerson("photo", "一寸照片（领证时交）", "One photo (handed in at pickup)")},
			fResidence(), fPhone()),
		counterMatter("x-dilapidated-house", 0, txt("农村危房改造补助申请", "Subsidy for rebuilding dilapidated rural housing"), ben, deptHousing, deptHousing, acceptance, 30, whyOnSite,
			matIDCard(), matHousehold(), matInPerson("photos", "房屋现状照片", "Photos of the house")),
		applyMatter("x-medical-assistance", 0, txt("城乡医疗救助申请", "Medical assistance"), ben, deptMedical, deptCivil, handling, 15,
			[]uplink.Material{matIDCard(), matForm("医疗救助申请表", "Application"), matHousehold(),
				matInPerson("invoices", "住院费用结算单原件（出件时核验）", "Original hospital bills (checked at pickup)")},
			fText("hospital", "就诊医院", "Hospital"),
			fText("expense", "个人负担医疗费用（元）", "Out-of-pocket medical costs (yuan)"),
			fResidence(), fPhone()),
	}
}

// township is one township's personalised list (一乡镇一清单).
type township struct {
	ID     string
	Code   string // two letters, in case numbers
	Name   uplink.Text
	Centre uplink.ServicePoint
	List   []listEntry
}

// listEntry puts a matter on a township's list from From (China midnight)
// and, if Until is set, takes it off at Until (有进有出).
type listEntry struct {
	MatterID    string
	From, Until time.Time
}

// day is midnight China time of a date: effective dates start there.
func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, chinaTime) }

// The schedule of the sample lists. Each list starts on listStart; the
// notice wanted every county's lists published by 30 November, so the
// first round of changes takes effect on 1 December 2026; more follow.
var (
	listStart = day(2026, 6, 1)
	change1   = day(2026, 12, 1)
	change2   = day(2027, 1, 1)
	change3   = day(2027, 3, 1)
)

// entries puts ids on a list from from until until (zero: open-ended).
func entries(from, until time.Time, ids ...string) []listEntry {
	out := make([]listEntry, len(ids))
	for i, id := range ids {
		out[i] = listEntry{MatterID: id, From: from, Until: until}
	}
	return out
}

func concat(lists ...[]listEntry) []listEntry {
	var out []listEntry
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// sampleTownships are the three sample townships of the demo county.
func sampleTownships() []township {
	var never time.Time
	return []township{
		{
			ID: "chengguan", Code: "CG", Name: txt("城关镇", "Chengguan Town"),
			Centre: uplink.ServicePoint{Name: txt("城关镇便民服务中心", "Chengguan Town Service Centre"),
				Address: "城关镇人民路88号（样例地址）",
				Hours:   txt("周一至周五 8:30–12:00、13:30–17:30；周六 9:00–12:00（错峰延时服务）", "Mon–Fri 8:30–12:00, 13:30–17:30; Sat 9:00–12:00"),
				Phone:   "0000-0000101"},
			List: concat(
				entries(listStart, never, "sole-trader-register", "sole-trader-change", "sole-trader-deregister",
					"company-register", "company-change", "company-deregister", "prepacked-food-filing", "small-catering",
					"minimum-living", "extreme-poverty-support", "temporary-assistance", "disability-allowances", "senior-allowance",
					"pension-enroll", "pension-claim", "pension-transfer", "employment-card", "unemployment-register",
					"social-security-card", "medical-insurance-enroll", "medical-out-of-area",
					"family-planning-reward", "birth-registration", "no-criminal-record", "property-record-query",
					"water-bill", "electricity-bill", "gas-bill", "heating-bill", "x-senior-card"),
				// Taken back by the county on 1 January 2027 (能放能收).
				entries(listStart, change2, "construction-permit"),
				entries(change1, never, "startup-loan", "flexible-worker-enroll", "residence-permit"),
				entries(change3, never, "x-medical-assistance"),
			),
		},
		{
			ID: "liuqiao", Code: "LQ", Name: txt("柳桥镇", "Liuqiao Town"),
			Centre: uplink.ServicePoint{Name: txt("柳桥镇便民服务中心", "Liuqiao Town Service Centre"),
				Address: "柳桥镇政府街1号（样例地址）",
				Hours:   txt("周一至周五 9:00–12:00、14:00–17:00", "Mon–Fri 9:00–12:00, 14:00–17:00"),
				Phone:   "0000-0000102"},
			List: concat(
				entries(listStart, never, "sole-trader-register", "sole-trader-change", "sole-trader-deregister",
					"coop-register", "prepacked-food-filing", "food-workshop", "rural-planning-permit",
					"farm-machinery-subsidy", "farmland-subsidy", "tree-felling-permit",
					"minimum-living", "extreme-poverty-support", "temporary-assistance", "disability-allowances", "senior-allowance",
					"funeral-subsidy", "conscript-family-allowance", "pension-enroll", "pension-claim", "unemployment-register",
					"social-security-card", "medical-insurance-enroll", "medical-out-of-area", "family-planning-reward",
					"disability-cert", "water-bill", "electricity-bill", "gas-bill", "x-dilapidated-house"),
				entries(listStart, change1, "animal-epidemic-cert"),
				entries(change1, never, "chronic-disease-benefit"),
				entries(change2, never, "pension-transfer"),
			),
		},
		{
			ID: "dawangzhuang", Code: "DW", Name: txt("大王庄镇", "Dawangzhuang Town"),
			Centre: uplink.ServicePoint{Name: txt("大王庄镇便民服务中心", "Dawangzhuang Town Service Centre"),
				Address: "大王庄镇中心街6号（样例地址）",
				Hours:   txt("周一至周五 9:00–12:00、13:30–17:00；周三延时至19:00", "Mon–Fri 9:00–12:00, 13:30–17:00; Wed until 19:00"),
				Phone:   "0000-0000103"},
			List: concat(
				entries(listStart, never, "sole-trader-register", "sole-trader-change", "sole-trader-deregister",
					"rural-planning-permit", "farmland-subsidy",
					"minimum-living", "extreme-poverty-support", "temporary-assistance", "disability-allowances", "senior-allowance",
					"funeral-subsidy", "pension-enroll", "pension-claim", "employment-card", "social-security-card",
					"medical-insurance-enroll", "medical-out-of-area", "maternity-benefit", "public-venue-hygiene",
					"student-aid", "water-abstraction-permit", "water-bill", "electricity-bill", "x-senior-card"),
				entries(listStart, change2, "road-occupation-permit"),
				entries(change1, never, "family-planning-reward", "birth-registration"),
				entries(change3, never, "x-dilapidated-house"),
			),
		},
	}
}

// DefaultTownship is the township of a terminal nobody bound (the demo
// terminal's).
const DefaultTownship = "chengguan"
