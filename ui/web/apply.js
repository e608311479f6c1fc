'use strict';
// Government services: the township's catalog (departments -> matters ->
// what to bring), applying with the ID card (pre-filled form, electronic
// licences, everything missing said once), the receipt with its tracking
// QR, progress by scanning that QR or reading the ID card, and the
// five-level rating (好差评) after every service. The daemon decides every
// step; the page keeps only the value being typed, wiped with the session.
(() => {
  const { h, t, act, notice, render } = TB;

  TB.strings({
    govTitle: '政务服务', govLoading: '正在获取本乡镇事项清单…', govSample: '样例数据', typeDate: '年月日 8 位数字，如 20260315',
    govMatters: (n) => `${n} 项`, govProgress: '办件进度查询', govProgressHint: '凭受理回执二维码或身份证查询',
    govScanHint: '也可直接将受理回执上的二维码对准扫码器查询进度。',
    pageOf: (p, n) => `第 ${p} / ${n} 页`, prevPage: '上一页', nextPage: '下一页', govHome: '返回首页',
    chApply: '可在本机申请', chCounter: '需到便民服务中心', chPay: '本机缴费',
    department: '实施部门', mode: '办理方式', power: '事项类型', promised: '承诺时限', onTheSpot: '即办',
    days: (n) => `${n} 个工作日`, bring: '需要准备', required: '必需', optional: '可选',
    modeHelp: { entrustedHandling: '乡镇受县级部门委托，直接受理并办结。', entrustedAcceptance: '乡镇受理后转县级部门审批，结果回到乡镇领取。' },
    src: { idCard: '身份证（本机读取）', licence: '电子证照（自动关联）', form: '本机填写', inPerson: '领取时交验原件' },
    counterTitle: '本事项不能在自助终端办理', counterWhere: '请前往', counterHours: '办公时间', counterPhone: '咨询电话',
    payHere: '去缴费', startApply: '开始申请', withdrawn: '该事项已调出本乡镇清单，暂不能申请。',
    applyUnavailable: '本机暂时无法受理申请（身份证阅读器或平台不可用），请稍后再试或前往便民服务中心。',
    matterWithdrawn: '该事项已调出本乡镇清单，暂不能申请。',
    placeCard: '请将身份证放在读卡区', placeCardHint: '请平放在屏幕下方的读卡区，读取完成前请勿移开。', readingCard: '正在读取身份证…',
    cardReaderDown: '身份证阅读器暂不可用，请稍后再试。', cardReadFailed: '未能读取身份证，请重新放置。', cardUnusable: '该证件信息不完整，无法用于申请。',
    applicant: '申请人', fromCard: '读自身份证', fromHistory: '历史记录', edit: '修改', fill: '填写', ok: '确定',
    missingTitle: (n) => `还需补充以下 ${n} 项（一次性告知）`, missingPlatform: '以下为县级平台的核对结果：',
    complete: '✔ 材料齐全，可以提交。', reason: { missing: '未填写', invalid: '格式不正确', unknown: '表单中没有此项', expired: '已过期', notLinked: '不属于申请人' },
    licences: '电子证照', attach: '附上', attached: '已附上', expired: '已过期，不能使用', needed: '本事项需要', noLicences: '平台未关联电子证照。',
    earlier: '以往办件', notKnown: '平台暂无您的历史记录，已按身份证填写。',
    historyUnavailable: '县级平台暂时无法连接：已按身份证填写，其余请手动填写。',
    submit: '确认提交', submitting: '正在提交申请…', printingReceipt: '正在打印受理回执…',
    applicationIncomplete: '还有未补充的项目，请按提示补充后再提交。', fieldInvalid: '填写的内容格式不正确，请检查。',
    applicationInvalid: '申请内容有误，请检查后再提交。', licenceExpired: '该电子证照已过期，不能使用。',
    appDoneTitle: '✔ 申请已受理', pendingAppTitle: '⏳ 申请已保存，待送达平台', caseNumber: '受理编号', matter: '办理事项',
    receiptOk: '受理回执已打印，请取走。凭回执二维码可随时查询进度。',
    receiptQR: '受理回执未能打印。请用手机扫描下方二维码保存，凭此查询进度。',
    pendingHelp: '县级平台暂时无法连接。您的申请已加密保存在本终端，平台恢复后自动送达，请勿重复申请。',
    appRefusedTitle: '✖ 平台未受理本申请',
    refusal: { matter_not_offered: '该事项已不在本乡镇清单中。', counter_only: '本事项需到便民服务中心办理。', application_conflict: '申请编号冲突，请重新申请。' },
    appRefusedHelp: '请前往便民服务中心咨询。',
    progressTitle: '办件进度查询', progressScan: '将受理回执上的二维码对准下方扫码器', progressCard: '或将身份证放在读卡区，查询本人全部办件',
    caseLookup: '正在查询…', caseUnknown: '未找到该办件，请核对受理回执。', noCases: '平台暂无您的办件记录。',
    status: '当前状态', timeline: '办理进度', pickup: '领取地点',
    caseStatus: { accepted: '已受理', reviewing: '审核中', approved: '已办结', rejected: '不予受理', ready: '可领取' },
    rateTitle: '请对本次服务进行评价（好差评）', rated: (n) => `感谢您的评价：${n}`,
  }, {
    govTitle: 'Government services', govLoading: 'Fetching the township\'s list…', govSample: 'Sample data', typeDate: 'YYYYMMDD, e.g. 20260315',
    govMatters: (n) => `${n}`, govProgress: 'Application progress', govProgressHint: 'With the receipt QR or your ID card',
    govScanHint: 'Or hold the QR code on an application receipt to the scanner to see its progress.',
    pageOf: (p, n) => `Page ${p} of ${n}`, prevPage: 'Previous', nextPage: 'Next', govHome: 'Home',
    chApply: 'Apply here', chCounter: 'At the service centre', chPay: 'Pay here',
    department: 'Department', mode: 'Handled by', power: 'Type', promised: 'Promised time', onTheSpot: 'On the spot',
    days: (n) => `${n} working days`, bring: 'What you need', required: 'required', optional: 'optional',
    modeHelp: { entrustedHandling: 'The township decides, on behalf of the county department.', entrustedAcceptance: 'The township accepts; the county department decides; you collect the result here.' },
    src: { idCard: 'ID card (read here)', licence: 'Electronic licence (attached)', form: 'Filled in here', inPerson: 'Original shown when collecting' },
    counterTitle: 'This matter cannot be handled at a terminal', counterWhere: 'Please go to', counterHours: 'Hours', counterPhone: 'Phone',
    payHere: 'Pay the bill', startApply: 'Apply', withdrawn: 'This matter has left the township\'s list.',
    applyUnavailable: 'Applications cannot be taken right now (ID card reader or platform unavailable). Try later or go to the service centre.',
    matterWithdrawn: 'This matter has left the township\'s list.',
    placeCard: 'Place your ID card on the reader', placeCardHint: 'Lay it flat on the reader below the screen and leave it until it has been read.', readingCard: 'Reading your ID card…',
    cardReaderDown: 'The ID card reader is unavailable: please try again later.', cardReadFailed: 'The card could not be read: place it again.', cardUnusable: 'This card lacks details an application needs.',
    applicant: 'Applicant', fromCard: 'from your ID card', fromHistory: 'from your records', edit: 'Change', fill: 'Fill in', ok: 'OK',
    missingTitle: (n) => `Still needed: ${n} item(s), all listed here at once`, missingPlatform: 'As checked by the county platform:',
    complete: '✔ Complete: you can submit.', reason: { missing: 'not filled in', invalid: 'not valid', unknown: 'not on this form', expired: 'expired', notLinked: 'not the applicant\'s' },
    licences: 'Electronic licences', attach: 'Attach', attached: 'Attached', expired: 'expired, cannot be used', needed: 'needed here', noLicences: 'No electronic licences on record.',
    earlier: 'Earlier applications', notKnown: 'No records of you on the platform: filled in from your ID card.',
    historyUnavailable: 'The county platform is unreachable: filled in from your ID card; please fill in the rest.',
    submit: 'Submit', submitting: 'Submitting your application…', printingReceipt: 'Printing your receipt…',
    applicationIncomplete: 'Something is still missing: complete the items listed, then submit.', fieldInvalid: 'That entry is not valid: please check it.',
    applicationInvalid: 'The application has an error: please check it.', licenceExpired: 'That licence has expired and cannot be used.',
    appDoneTitle: '✔ Application accepted', pendingAppTitle: '⏳ Application saved, to be delivered', caseNumber: 'Case number', matter: 'Matter',
    receiptOk: 'Your receipt has been printed. Scan its QR code any time to see the progress.',
    receiptQR: 'The receipt could not be printed. Scan this QR code with your phone to keep it and follow the progress.',
    pendingHelp: 'The county platform is unreachable. Your application is stored encrypted at this terminal and is delivered when the platform is back; do not apply again.',
    appRefusedTitle: '✖ The platform did not accept this application',
    refusal: { matter_not_offered: 'This matter is no longer on the township\'s list.', counter_only: 'This matter is handled at the service centre.', application_conflict: 'Application number clash: please apply again.' },
    appRefusedHelp: 'Please ask at the service centre.',
    progressTitle: 'Application progress', progressScan: 'Hold the QR code on your application receipt to the scanner below', progressCard: 'or place your ID card on the reader to see all your applications',
    caseLookup: 'Looking it up…', caseUnknown: 'No such case: check your receipt.', noCases: 'No applications on record for you.',
    status: 'Status', timeline: 'Progress', pickup: 'Collect at',
    caseStatus: { accepted: 'Accepted', reviewing: 'Under review', approved: 'Decided', rejected: 'Not accepted', ready: 'Ready for pickup' },
    rateTitle: 'How was this service? (rating)', rated: (n) => `Thank you for your rating: ${n}`,
  });

  const tx = (o) => (o ? (TB.lang() === 'en' && o.en ? o.en : o.zh) : '');
  const tbl = (k, sub) => (TB.table(k) || {})[sub] || sub;

  // What is being typed into one field: the only thing the page keeps.
  let editing = '';
  let draft = '';
  TB.onWipe(() => { editing = ''; draft = ''; });

  const backBtn = (label) => h('button', { type: 'button', class: 'secondary', id: 'gov-back', onclick: () => act('Gov.Back') }, label || t('back'));

  // Home: the township's list by department (big tiles), and progress.
  TB.home((s) => {
    const g = s.gov;
    if (!g) return null;
    const out = [h('h2', { id: 'gov-title' }, t('govTitle'), g.township ? ` · ${tx(g.township.name)}` : '')];
    if (!g.township) {
      out.push(h('p', { class: 'hint', id: 'gov-loading' }, t('govLoading')));
    } else {
      if (g.township.sample) out.push(h('p', { class: 'hint sample-note', id: 'gov-sample' }, h('span', { class: 'badge' }, '⚠'), ' ', tx(g.township.notice) || t('govSample')));
      out.push(h('div', { class: 'tiles gov-depts', id: 'gov-depts' }, (g.departments || []).map((d, i) =>
        h('button', { type: 'button', class: 'tile dept', id: `dept-${i}`, onclick: () => act('Gov.Browse', { department: d.name.zh, page: 0 }) },
          tx(d.name), h('small', {}, t('govMatters', d.matters))))));
    }
    out.push(h('div', { class: 'tiles' }, h('button', { type: 'button', class: 'tile', id: 'tile-progress', onclick: () => act('Progress.Start') },
      t('govProgress'), h('small', {}, t('govProgressHint')))));
    out.push(h('p', { class: 'hint' }, t('govScanHint')));
    return out;
  });

  const chLabel = (c) => ({ apply: t('chApply'), counter: t('chCounter'), pay: t('chPay') })[c] || c;

  TB.screen('services', (s) => {
    const b = s.gov.browse;
    if (!b) return [h('p', {}, t('govLoading')), h('div', { class: 'actions' }, backBtn(t('govHome')))];
    return [
      h('h1', { id: 'dept-title' }, tx(b.department)),
      h('div', { class: 'matters', id: 'matters' }, b.matters.map((m) =>
        h('button', { type: 'button', class: `matter ch-${m.channel}`, id: `matter-${m.matterId}`, onclick: () => act('Gov.Matter', { matterId: m.matterId }) },
          h('span', { class: 'matter-name' }, tx(m.name)),
          h('span', { class: 'matter-tags' }, h('span', { class: 'badge' }, tx(m.modeName)), ' ', h('span', { class: 'badge ch' }, chLabel(m.channel)))))),
      b.pages > 1 ? h('div', { class: 'pager' },
        h('button', { type: 'button', class: 'secondary', id: 'page-prev', disabled: b.page === 0, onclick: () => act('Gov.Browse', { department: b.department.zh, page: b.page - 1 }) }, t('prevPage')),
        h('span', { id: 'page-of' }, t('pageOf', b.page + 1, b.pages)),
        h('button', { type: 'button', class: 'secondary', id: 'page-next', disabled: b.page >= b.pages - 1, onclick: () => act('Gov.Browse', { department: b.department.zh, page: b.page + 1 }) }, t('nextPage'))) : null,
      notice(s),
      h('div', { class: 'actions' }, backBtn(t('govHome'))),
    ];
  });

  function counterBox(c) {
    if (!c) return null;
    const w = c.where;
    return h('div', { class: 'card warn-card', id: 'counter-info' },
      h('p', { class: 'warn' }, '⚠ ', h('strong', {}, t('counterTitle'))),
      h('p', {}, tx(c.reason)),
      h('dl', { class: 'facts' },
        h('dt', {}, t('counterWhere')), h('dd', { id: 'counter-where' }, tx(w.name), ' · ', w.address),
        h('dt', {}, t('counterHours')), h('dd', { id: 'counter-hours' }, tx(w.hours)),
        w.phone ? [h('dt', {}, t('counterPhone')), h('dd', {}, w.phone)] : null));
  }

  TB.screen('matter', (s) => {
    const m = s.gov.matter;
    const can = m.channel === 'apply' && !m.withdrawn && s.gov.available;
    return [
      h('h1', { id: 'matter-title' }, tx(m.name)),
      h('div', { class: 'card' }, h('dl', { class: 'facts' },
        h('dt', {}, t('department')), h('dd', { id: 'matter-dept' }, tx(m.department)),
        h('dt', {}, t('mode')), h('dd', { id: 'matter-mode' }, h('span', { class: 'badge' }, tx(m.modeName)), ' ', tbl('modeHelp', m.mode)),
        h('dt', {}, t('power')), h('dd', {}, tx(m.powerName)),
        h('dt', {}, t('promised')), h('dd', {}, m.promisedDays ? t('days', m.promisedDays) : t('onTheSpot')))),
      h('h2', {}, t('bring')),
      h('ul', { class: 'materials', id: 'materials' }, m.materials.map((mt) =>
        h('li', {}, h('strong', {}, tx(mt.name)), ` · ${tbl('src', mt.source)} · ${mt.required ? t('required') : t('optional')}`))),
      m.withdrawn ? h('p', { class: 'err', id: 'matter-withdrawn' }, '⚠ ', t('withdrawn')) : null,
      m.channel === 'counter' ? counterBox(m.counter) : null,
      m.channel === 'apply' && !m.withdrawn && !s.gov.available ? h('p', { class: 'warn', id: 'apply-unavailable' }, '⚠ ', t('applyUnavailable')) : null,
      notice(s),
      h('div', { class: 'actions' }, backBtn(),
        m.channel === 'pay' ? h('button', { type: 'button', class: 'primary', id: 'btn-pay-matter', onclick: () => act('Session.Start', { utility: m.utility }) }, t('payHere')) : null,
        m.channel === 'apply' ? h('button', { type: 'button', class: 'primary', id: 'btn-apply', disabled: !can, onclick: () => act('Apply.Begin') }, t('startApply')) : null),
    ];
  });

  function cardPrompt(s, title, lines) {
    return [
      h('h1', {}, title),
      h('div', { class: 'card card-prompt' }, h('div', { class: 'idcard-ico', 'aria-hidden': 'true' }, '🪪'), lines.map((l) => h('p', {}, l))),
      s.gov.reading || s.busy === 'caseLookup' ? h('p', { class: 'hint', id: 'card-reading' }, s.busy === 'caseLookup' ? t('caseLookup') : t('readingCard')) : null,
      notice(s),
      h('div', { class: 'actions' }, backBtn()),
    ];
  }

  TB.screen('apply-card', (s) => cardPrompt(s, t('placeCard'), [t('placeCardHint')]));

  // The on-screen keypad takes digits (phone, dates, ID numbers with X);
  // free text goes through the terminal's input method into a text box.
  function editor(f) {
    if (f.type === 'select') {
      return h('div', { class: 'options', id: `opts-${f.fieldId}` }, f.options.map((o) =>
        h('button', { type: 'button', class: 'option' + (f.value === o.value ? ' on' : ''), id: `opt-${f.fieldId}-${o.value}`, 'aria-pressed': f.value === o.value ? 'true' : 'false',
          onclick: () => { editing = ''; act('Apply.Set', { fieldId: f.fieldId, value: o.value }); } }, f.value === o.value ? '✔ ' : '', tx(o.label))));
    }
    const save = () => { const v = f.type === 'date' && /^\d{8}$/.test(draft) ? `${draft.slice(0, 4)}-${draft.slice(4, 6)}-${draft.slice(6)}` : draft; editing = ''; draft = ''; act('Apply.Set', { fieldId: f.fieldId, value: v }); };
    if (f.type === 'text') {
      const input = h('input', { type: 'text', class: 'text-input', id: `input-${f.fieldId}`, value: draft, maxlength: '200', autocomplete: 'off',
        oninput: (e) => { draft = e.target.value; } });
      setTimeout(() => { const el = document.getElementById(`input-${f.fieldId}`); if (el && document.activeElement !== el) el.focus(); }, 0);
      return h('div', { class: 'editor' }, input, h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: `save-${f.fieldId}`, onclick: save }, t('ok'))));
    }
    const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', f.type === 'idNumber' ? 'X' : 'clear', '0', 'del'];
    const max = f.type === 'date' ? 8 : f.type === 'idNumber' ? 18 : 13;
    const press = (k) => { if (k === 'del') draft = draft.slice(0, -1); else if (k === 'clear') draft = ''; else if (draft.length < max) draft += k; act('Session.Touch'); render(); };
    const shown = f.type === 'date' ? draft.replace(/^(\d{4})(\d{0,2})(\d{0,2}).*/, (m, y, mo, d) => [y, mo, d].filter(Boolean).join('-')) : draft;
    return h('div', { class: 'editor' },
      h('div', { class: 'display' + (draft ? '' : ' empty'), id: `display-${f.fieldId}` }, shown || t(f.type === 'date' ? 'typeDate' : 'typeDigits')),
      h('div', { class: 'keypad' }, keys.map((k) => h('button', { type: 'button', class: k.length > 1 ? 'fn' : '', id: `fkey-${k}`, onclick: () => press(k) }, k.length > 1 ? t(k) : k))),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: `save-${f.fieldId}`, onclick: save }, t('ok'))));
  }

  function fieldRow(f, missing) {
    const open = editing === f.fieldId;
    const src = f.source === 'card' ? t('fromCard') : f.source === 'history' ? t('fromHistory') : '';
    const shown = f.type === 'select' ? tx((f.options.find((o) => o.value === f.value) || {}).label) : f.value;
    return h('div', { class: 'field' + (missing ? ' missing' : ''), id: `field-${f.fieldId}` },
      h('div', { class: 'field-head' },
        h('span', { class: 'field-label' }, missing ? '⚠ ' : '', tx(f.label), f.required ? ' *' : ''),
        h('span', { class: 'field-value', id: `value-${f.fieldId}` }, shown || '—', src ? h('small', {}, ` （${src}）`) : null),
        f.locked ? null : h('button', { type: 'button', class: 'secondary small-btn', id: `edit-${f.fieldId}`, onclick: () => {
          editing = open ? '' : f.fieldId; draft = open ? '' : (f.type === 'date' ? (f.value || '').replace(/-/g, '') : f.type === 'select' ? '' : (f.value || ''));
          act('Session.Touch'); render();
        } }, f.value ? t('edit') : t('fill'))),
      open ? editor(f) : null);
  }

  function missingBox(a) {
    if (!a.missing.length) return h('p', { class: 'ok missing-box done', id: 'missing' }, t('complete'));
    return h('div', { class: 'card missing-box', id: 'missing', role: 'status' },
      h('p', { class: 'warn' }, h('strong', {}, '⚠ ', t('missingTitle', a.missing.length))),
      a.platformMissing ? h('p', { class: 'hint' }, t('missingPlatform')) : null,
      h('ol', {}, a.missing.map((m) => h('li', { id: `missing-${m.id}` }, tx(m.label), ' — ', tbl('reason', m.reason)))));
  }

  TB.screen('apply-form', (s) => {
    const a = s.gov.apply;
    const m = s.gov.matter;
    const missingIds = new Set(a.missing.map((x) => x.id));
    return [
      h('h1', { id: 'form-title' }, tx(m.name)),
      h('p', { id: 'applicant' }, `${t('applicant')}：`, h('strong', {}, a.applicant)),
      a.known ? null : h('p', { class: 'hint' }, t('notKnown')),
      missingBox(a),
      notice(s),
      h('div', { class: 'card fields', id: 'fields' }, a.fields.map((f) => fieldRow(f, missingIds.has(f.fieldId)))),
      h('h2', {}, t('licences')),
      a.licences.length ? h('div', { class: 'licences', id: 'licences' }, a.licences.map((l) =>
        h('div', { class: 'licence' + (l.usable ? '' : ' expired'), id: `licence-${l.licenceId}` },
          h('span', { class: 'licence-name' }, tx(l.name), l.needed ? h('small', {}, ` （${t('needed')}）`) : null),
          h('small', { class: 'licence-meta' }, `${l.number} · ${l.issuer}${l.validUntil ? ' · ' + l.validUntil : ''}`),
          l.usable
            ? h('button', { type: 'button', class: l.attached ? 'primary small-btn' : 'secondary small-btn', id: `attach-${l.licenceId}`, 'aria-pressed': l.attached ? 'true' : 'false',
              onclick: () => act('Apply.Attach', { licenceId: l.licenceId, attach: !l.attached }) }, l.attached ? `✔ ${t('attached')}` : t('attach'))
            : h('span', { class: 'err' }, '✖ ', t('expired'))))) : h('p', { class: 'hint' }, t('noLicences')),
      a.earlier && a.earlier.length ? [h('h2', {}, t('earlier')), h('ul', { class: 'earlier' }, a.earlier.map((e) =>
        h('li', {}, `${e.caseNumber} · ${tx(e.matterName)} · ${tbl('caseStatus', e.status)}`)))] : null,
      h('div', { class: 'actions' }, backBtn(),
        h('button', { type: 'button', class: 'primary', id: 'btn-submit', disabled: a.missing.length > 0, onclick: () => { editing = ''; act('Apply.Submit'); } }, t('submit'))),
    ];
  });

  TB.screen('apply-submitting', (s) => {
    const app = s.gov.apply && s.gov.apply.app;
    return [h('div', { class: 'spinner', 'aria-hidden': 'true' }),
      h('h1', { class: 'center', id: 'submitting' }, app && app.receipt === 'printing' ? t('printingReceipt') : t('submitting'))];
  });

  // ratingBlock is the five-level rating after a service; bills.js shows
  // it on its done screen too.
  function ratingBlock(s) {
    const r = s.gov && s.gov.rating;
    if (!r) return null;
    if (r.level) return h('p', { class: 'ok rating-done', id: 'rating-done' }, '✔ ', t('rated', tx(r.levels[r.level - 1])));
    return h('div', { class: 'card rating', id: 'rating' },
      h('p', {}, h('strong', {}, t('rateTitle'))),
      h('div', { class: 'rating-levels' }, r.levels.map((name, i) =>
        h('button', { type: 'button', class: 'secondary rate', id: `rate-${i + 1}`, onclick: () => act('Rating.Submit', { level: i + 1 }) },
          h('span', { class: 'stars', 'aria-hidden': 'true' }, '★'.repeat(i + 1)), h('span', {}, tx(name))))));
  }
  window.TBRating = ratingBlock;

  function caseCard(c) {
    return h('div', { class: 'card case', id: `case-${c.caseId}` },
      h('dl', { class: 'facts' },
        h('dt', {}, t('caseNumber')), h('dd', { class: 'case-number', id: `case-number-${c.caseId}` }, c.caseNumber),
        h('dt', {}, t('matter')), h('dd', {}, tx(c.matterName)),
        h('dt', {}, t('status')), h('dd', { id: `case-status-${c.caseId}` }, h('span', { class: 'badge' }, c.final ? '● ' : '◐ ', tx(c.statusName)))),
      h('h2', {}, t('timeline')),
      h('ol', { class: 'timeline' }, c.timeline.map((e) => h('li', {},
        h('strong', {}, tx(e.statusName)), ` · ${new Date(e.at).toLocaleString(TB.lang() === 'zh' ? 'zh-CN' : 'en-GB')}`,
        e.note && e.note.zh ? h('div', { class: 'hint' }, tx(e.note)) : null,
        e.place ? h('div', {}, `${t('pickup')}：${tx(e.place.name)} · ${e.place.address} · ${tx(e.place.hours)}`) : null))));
  }

  TB.screen('apply-done', (s) => {
    const app = s.gov.apply.app;
    const ok = app.status === 'acknowledged';
    let receipt = null;
    if (!ok) receipt = h('p', { class: 'warn', id: 'receipt-status' }, t('pendingHelp'));
    else if (app.receipt === 'printed') receipt = h('p', { id: 'receipt-status' }, t('receiptOk'));
    else receipt = [h('p', { class: 'warn', id: 'receipt-status' }, t('receiptQR')),
      h('img', { class: 'qr', id: 'track-qr', alt: t('caseNumber'), src: `/qr.png?text=${encodeURIComponent(app.case.trackUrl)}` })];
    return [
      h('h1', { class: ok ? 'ok' : 'warn', id: 'apply-done-title' }, ok ? t('appDoneTitle') : t('pendingAppTitle')),
      ok ? h('div', { class: 'card' }, h('dl', { class: 'facts' },
        h('dt', {}, t('caseNumber')), h('dd', { class: 'big case-number', id: 'case-number' }, app.case.caseNumber),
        h('dt', {}, t('matter')), h('dd', {}, tx(app.case.matterName)),
        h('dt', {}, t('status')), h('dd', {}, tx(app.case.statusName)))) : h('p', { class: 'hint' }, app.applicationId),
      receipt,
      ratingBlock(s),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: 'gov-finish', onclick: () => act('Gov.Back') }, t('finish'))),
    ];
  });

  TB.screen('apply-refused', (s) => {
    const app = s.gov.apply.app;
    return [
      h('h1', { class: 'err', id: 'apply-refused-title' }, t('appRefusedTitle')),
      h('p', { id: 'refusal' }, tbl('refusal', app.refusal) !== app.refusal ? tbl('refusal', app.refusal) : t('appRefusedHelp')),
      counterBox(app.counter),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: 'gov-finish', onclick: () => act('Gov.Back') }, t('govHome'))),
    ];
  });

  TB.screen('progress', (s) => cardPrompt(s, t('progressTitle'), [t('progressScan'), t('progressCard')]));

  TB.screen('progress-result', (s) => [
    h('h1', { id: 'progress-title' }, t('progressTitle')),
    (s.gov.cases || []).map(caseCard),
    ratingBlock(s),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: 'gov-finish', onclick: () => act('Gov.Back') }, t('finish'))),
  ]);
})();
