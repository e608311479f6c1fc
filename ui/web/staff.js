'use strict';
// Partner-site staff mode: badge (read by the scanner) -> PIN -> menu:
// counter top-up, cash-box count, voucher refund, sign-out. The daemon
// decides everything; this page keeps only what is being typed (the PIN,
// an account, counts), wiped whenever the staff screen or shift changes.
(() => {
  const { h, t, yuan, act, render } = TB;
  const DENOMS = [10000, 5000, 2000, 1000, 500, 100, 50, 10];
  const UTILITIES = ['water', 'electricity', 'gas', 'heating'];

  TB.strings({
    staffPinTitle: '工作人员签到', staffPinHint: (id) => `工牌 ${id}：请输入密码`, staffSignIn: '签到', staffSigningIn: '正在核验…',
    staffTriesLeft: (n) => `还可尝试 ${n} 次，连续输错 5 次将锁定工牌`,
    staffLocked: '该工牌因连续输错密码已被锁定', staffLockedUntil: (x) => `锁定至 ${x}，请稍后再试或联系管理员`,
    staffPinWrong: '密码错误', staffPinFormat: '密码为 4 至 8 位数字', staffBadgeInvalid: '工牌无效：非县级平台签发或已作废',
    staffSignInFailed: '签到失败，请稍后再试',
    staffMenuTitle: (n) => `${n}，您好`, staffShift: '本班次', staffSince: (x) => `签到时间 ${x}`,
    staffTopUps: (n, a) => `柜台代缴 ${n} 笔，共 ${a} 元`, staffRefunds: (n, a) => `凭证退款 ${n} 笔，共 ${a} 元`,
    staffBoxes: (n, d) => `钱箱清点 ${n} 次，差异 ${d} 元`,
    staffOpenTopUp: '柜台代缴', staffOpenCashBox: '钱箱清点', staffOpenRefund: '凭证退款', staffSignOut: '签退',
    staffBoxRemovedAlert: '钱箱已取出，请清点并录入各面额张数',
    staffTopUpTitle: '柜台代缴：收取居民现金后代为缴费', staffChooseUtility: '缴费项目', staffAccount: '户号',
    staffTakeCash: '收取的现金（按面额录入张数）', staffTotal: '合计', staffPay: '确认代缴', staffNewTopUp: '再办一笔', staffBack: '返回菜单',
    staffPaying: '正在提交…', staffStatus: { submitting: '正在提交', acknowledged: '平台已入账', pending: '已记录，待平台确认', refused: '平台拒绝：请将现金退还居民' },
    staffReceipt: { printing: '正在打印凭证…', printed: '凭证已打印，请交给居民。', failed: '凭证未能打印：请居民用手机扫描下方二维码保存电子凭证。' },
    staffTopUpRefused: '平台拒绝了这笔缴费，请将现金退还居民', staffAmountInvalid: '请按面额录入收取的现金',
    staffCashBoxTitle: '钱箱清点', staffBoxNotRemoved: '钱箱未取出。取出钱箱后再清点。', staffBoxRemovedAt: (x) => `钱箱取出时间 ${x}`,
    staffCountHint: '请逐一清点，录入各面额张数（盲点：账面数在提交后显示）', staffSubmitCount: '提交清点结果',
    staffDenom: '面额', staffExpected: '账面', staffCounted: '实点', staffDiff: '差异',
    staffBoxMatch: '实点与账面一致。', staffBoxMismatch: '实点与账面不一致：已标记并上报平台，未做任何调整。',
    staffBoxSent: '报告已送达县级平台', staffBoxSending: '报告待送达，终端将自动重试', staffBoxPrinted: { printing: '正在打印报告…', printed: 'Z 报告已打印', failed: 'Z 报告未能打印' },
    staffRefundTitle: '凭证退款', staffRefundHint: '请将居民的现金凭证二维码对准扫码器', staffRefundConfirm: '确认退款',
    staffRefundAmount: '应退现金', staffRefunding: '正在向平台登记…', staffRefunded: (a) => `已登记退款，请付给居民 ${a} 元现金。`,
    voucherIssued: '开具时间',
  }, {
    staffPinTitle: 'Staff sign-in', staffPinHint: (id) => `Badge ${id}: enter your PIN`, staffSignIn: 'Sign in', staffSigningIn: 'Checking…',
    staffTriesLeft: (n) => `${n} tries left; five wrong PINs lock the badge`,
    staffLocked: 'This badge is locked after too many wrong PINs', staffLockedUntil: (x) => `Locked until ${x}; try later or call your supervisor`,
    staffPinWrong: 'Wrong PIN', staffPinFormat: 'The PIN is 4 to 8 digits', staffBadgeInvalid: 'Badge not valid: not issued by the county platform, or revoked',
    staffSignInFailed: 'Sign-in failed, try again later',
    staffMenuTitle: (n) => `Hello, ${n}`, staffShift: 'This shift', staffSince: (x) => `Signed in at ${x}`,
    staffTopUps: (n, a) => `${n} counter payments, ${a} yuan`, staffRefunds: (n, a) => `${n} voucher refunds, ${a} yuan`,
    staffBoxes: (n, d) => `${n} cash-box counts, difference ${d} yuan`,
    staffOpenTopUp: 'Counter payment', staffOpenCashBox: 'Count the cash box', staffOpenRefund: 'Refund a voucher', staffSignOut: 'Sign out',
    staffBoxRemovedAlert: 'The cash box is out: count it and enter the notes per value',
    staffTopUpTitle: 'Counter payment: take the resident\'s cash and pay their bill', staffChooseUtility: 'Utility', staffAccount: 'Account',
    staffTakeCash: 'Cash taken (count per value)', staffTotal: 'Total', staffPay: 'Pay', staffNewTopUp: 'Another payment', staffBack: 'Back to menu',
    staffPaying: 'Submitting…', staffStatus: { submitting: 'Submitting', acknowledged: 'Booked by the platform', pending: 'Recorded, awaiting the platform', refused: 'Refused: give the cash back' },
    staffReceipt: { printing: 'Printing the receipt…', printed: 'Receipt printed: hand it to the resident.', failed: 'The receipt could not print: let the resident scan this QR code.' },
    staffTopUpRefused: 'The platform refused this payment: give the cash back', staffAmountInvalid: 'Enter the cash taken, per value',
    staffCashBoxTitle: 'Cash-box count', staffBoxNotRemoved: 'The cash box has not been removed. Remove it, then count.', staffBoxRemovedAt: (x) => `Removed at ${x}`,
    staffCountHint: 'Count every note and enter the number per value (blind count: the journal\'s figures show after you submit)', staffSubmitCount: 'Submit the count',
    staffDenom: 'Value', staffExpected: 'Journal', staffCounted: 'Counted', staffDiff: 'Difference',
    staffBoxMatch: 'The count matches the journal.', staffBoxMismatch: 'The count differs from the journal: flagged and reported, nothing adjusted.',
    staffBoxSent: 'Report delivered to the county platform', staffBoxSending: 'Report queued; the terminal keeps trying', staffBoxPrinted: { printing: 'Printing the report…', printed: 'Z report printed', failed: 'Z report not printed' },
    staffRefundTitle: 'Voucher refund', staffRefundHint: 'Hold the resident\'s voucher QR code to the scanner', staffRefundConfirm: 'Refund',
    staffRefundAmount: 'Cash to pay out', staffRefunding: 'Recording with the platform…', staffRefunded: (a) => `Refund recorded: pay the resident ${a} yuan in cash.`,
    voucherIssued: 'Issued',
  });

  // What is being typed; forgotten when the staff screen or shift changes.
  let pin = '', account = '', utility = 'water', counts = {}, notes = {}, lastKey = '';
  function keep(s) {
    const key = `${s.screen}/${s.staff && s.staff.shift ? s.staff.shift.shiftId : ''}/${s.staff && s.staff.badge ? s.staff.badge : ''}`;
    if (key !== lastKey) { pin = ''; account = ''; counts = {}; notes = {}; lastKey = key; }
  }
  const clock = (ms) => new Date(ms).toLocaleTimeString(TB.lang() === 'zh' ? 'zh-CN' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
  const touch = () => act('Staff.Touch');
  // A difference says which way: +20.00 over, -80.00 short.
  const signed = (fen) => (fen > 0 ? '+' : '') + yuan(fen);

  function staffNotice(st) {
    if (!st.notice) return null;
    const c = st.notice.code;
    return h('p', { class: 'err', id: 'staff-notice', role: 'alert' }, '⚠ ', t(c) !== c ? t(c) : st.notice.message);
  }

  function keypad(prefix, onKey, disabled) {
    return h('div', { class: 'keypad' }, ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'clear', '0', 'del'].map((d) =>
      h('button', { type: 'button', id: `${prefix}-${d}`, class: d.length > 1 ? 'fn' : '', disabled, onclick: () => { onKey(d); render(); } }, d.length > 1 ? t(d) : d)));
  }
  const edit = (v, d, max) => d === 'del' ? v.slice(0, -1) : d === 'clear' ? '' : v.length < max ? v + d : v;

  function pinScreen(s) {
    keep(s);
    const st = s.staff;
    const busy = st.busy === 'signIn';
    const locked = st.lockedUntil > Date.now();
    return [
      h('h1', {}, t('staffPinTitle')),
      h('p', { class: 'hint', id: 'staff-badge' }, t('staffPinHint', st.badge)),
      h('div', { class: 'display' + (pin ? '' : ' empty'), id: 'staff-pin-display' }, pin ? '●'.repeat(pin.length) : '——'),
      locked ? h('p', { class: 'err', id: 'staff-locked' }, '🔒 ', t('staffLocked'), ' ', t('staffLockedUntil', clock(st.lockedUntil)))
        : staffNotice(st),
      !locked && st.triesLeft ? h('p', { class: 'hint', id: 'staff-tries' }, t('staffTriesLeft', st.triesLeft)) : null,
      busy ? h('p', { class: 'hint', id: 'staff-busy' }, t('staffSigningIn')) : null,
      keypad('staff-key', (d) => { pin = edit(pin, d, 8); }, busy || locked),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', id: 'staff-btn-cancel', onclick: () => act('Staff.SignInCancel') }, t('cancel')),
        h('button', { type: 'button', class: 'primary', id: 'staff-btn-signin', disabled: busy || locked || pin.length < 4,
          onclick: () => { const p = pin; pin = ''; render(); act('Staff.SignIn', { pin: p }); } }, t('staffSignIn'))),
    ];
  }

  function shiftCard(st) {
    const sh = st.shift;
    return h('div', { class: 'card staff-shift', id: 'staff-shift' },
      h('strong', {}, t('staffShift')), ' ', h('span', { class: 'hint' }, t('staffSince', clock(sh.since))),
      h('ul', {},
        h('li', { id: 'staff-shift-topups' }, t('staffTopUps', sh.topUps, yuan(sh.topUpTotal))),
        h('li', { id: 'staff-shift-refunds' }, t('staffRefunds', sh.refunds, yuan(sh.refundTotal))),
        h('li', { id: 'staff-shift-boxes', class: sh.differences ? 'err' : '' }, t('staffBoxes', sh.cashBoxes, signed(sh.differences)))));
  }

  function menuScreen(s) {
    keep(s);
    const st = s.staff;
    const open = (view) => () => act('Staff.Open', { view });
    return [
      h('h1', {}, t('staffMenuTitle', st.name)),
      h('p', { class: 'hint', id: 'staff-who' }, `${st.staffId} · ${st.site}`),
      st.boxRemoved ? h('p', { class: 'warn', id: 'staff-box-removed' }, '⚠ ', t('staffBoxRemovedAlert')) : null,
      staffNotice(st),
      h('div', { class: 'staff-menu' },
        h('button', { type: 'button', class: 'primary', id: 'staff-open-topup', onclick: open('staffTopUp') }, t('staffOpenTopUp')),
        h('button', { type: 'button', class: 'primary', id: 'staff-open-cashbox', onclick: open('staffCashBox') }, t('staffOpenCashBox')),
        h('button', { type: 'button', class: 'primary', id: 'staff-open-refund', onclick: open('staffRefund') }, t('staffOpenRefund'))),
      shiftCard(st),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', id: 'staff-btn-signout', onclick: () => act('Staff.SignOut') }, t('staffSignOut'))),
    ];
  }

  const backRow = (...more) => h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary', id: 'staff-btn-back', onclick: () => act('Staff.Open', { view: 'staffMenu' }) }, t('staffBack')), ...more);

  // counter draws +/- steppers per note value into table m.
  function counter(prefix, m, disabled) {
    return h('div', { class: 'staff-counts' }, DENOMS.map((v) => h('div', { class: 'staff-count' },
      h('span', { class: 'money' }, `${yuan(v)}`),
      h('button', { type: 'button', id: `${prefix}-${v}-minus`, disabled: disabled || !m[v], onclick: () => { m[v] = (m[v] || 0) - 1; touch(); render(); } }, '−'),
      h('span', { class: 'big', id: `${prefix}-${v}-count` }, String(m[v] || 0)),
      h('button', { type: 'button', id: `${prefix}-${v}-plus`, disabled, onclick: () => { m[v] = (m[v] || 0) + 1; touch(); render(); } }, '+'))));
  }
  const lines = (m) => Object.entries(m).filter(([, n]) => n > 0).map(([v, n]) => ({ value: Number(v), count: n }));
  const total = (m) => Object.entries(m).reduce((a, [v, n]) => a + Number(v) * n, 0);

  function topUpScreen(s) {
    keep(s);
    const st = s.staff;
    const tu = st.topUp || {};
    const busy = !!st.busy;
    if (tu.status) {
      const rc = tu.receipt ? TB.table('staffReceipt')[tu.receipt] : t('staffPaying');
      return [
        h('h1', {}, t('staffOpenTopUp')),
        h('div', { class: 'card' }, h('dl', { class: 'facts' },
          h('dt', {}, t('staffAccount')), h('dd', {}, `${t(tu.utility)} · ${tu.account}`),
          h('dt', {}, t('paid')), h('dd', { class: 'money big', id: 'staff-topup-amount' }, `${yuan(tu.amount)} ${t('yuan')}`),
          h('dt', {}, t('reference')), h('dd', {}, tu.reference),
          tu.paymentId ? [h('dt', {}, 'ID'), h('dd', { id: 'staff-topup-payment' }, tu.paymentId)] : null)),
        h('p', { class: tu.status === 'refused' ? 'err' : 'ok', id: 'staff-topup-status', 'data-status': tu.status }, TB.table('staffStatus')[tu.status]),
        h('p', { id: 'staff-topup-receipt', 'data-receipt': tu.receipt || '' }, rc),
        tu.receipt === 'failed' && tu.verifyUrl ? h('img', { class: 'qr', id: 'staff-topup-qr', alt: t('verifyCode'), src: `/qr.png?text=${encodeURIComponent(tu.verifyUrl)}` }) : null,
        staffNotice(st),
        backRow(h('button', { type: 'button', class: 'primary', id: 'staff-btn-new', disabled: busy, onclick: () => act('Staff.Open', { view: 'staffTopUp' }) }, t('staffNewTopUp'))),
      ];
    }
    if (!tu.bill) {
      return [
        h('h1', {}, t('staffTopUpTitle')),
        h('div', { class: 'options' }, UTILITIES.map((u) => h('button', { type: 'button', id: `staff-util-${u}`, class: 'option' + (u === utility ? ' on' : ''),
          onclick: () => { utility = u; touch(); render(); } }, t(u)))),
        h('div', { class: 'display' + (account ? '' : ' empty'), id: 'staff-account-display' }, account || t('typeDigits')),
        staffNotice(st),
        busy ? h('p', { class: 'hint' }, t('looking')) : null,
        keypad('staff-acct', (d) => { account = edit(account, d, 20); touch(); }, busy),
        backRow(h('button', { type: 'button', class: 'primary', id: 'staff-btn-lookup', disabled: busy || account.length < 6,
          onclick: () => act('Staff.TopUpLookup', { utility, account }) }, t('lookup'))),
      ];
    }
    const b = tu.bill;
    const sum = total(notes);
    return [
      h('h1', {}, `${t(tu.utility)} · ${tu.account}`),
      h('div', { class: 'card' }, h('dl', { class: 'facts' },
        h('dt', {}, t('payee')), h('dd', {}, b.payee), h('dt', {}, t('holder')), h('dd', {}, b.holder),
        h('dt', {}, t('due')), h('dd', { class: 'money', id: 'staff-amount-due' }, `${yuan(b.amountDue)} ${t('yuan')}`))),
      h('p', { class: 'hint' }, t('staffTakeCash')),
      counter('staff-note', notes, busy),
      h('p', { class: 'big money', id: 'staff-topup-total' }, `${t('staffTotal')} ${yuan(sum)} ${t('yuan')}`),
      staffNotice(st),
      backRow(h('button', { type: 'button', class: 'primary', id: 'staff-btn-pay', disabled: busy || sum <= 0,
        onclick: () => act('Staff.TopUpPay', { notes: lines(notes) }) }, t('staffPay'))),
    ];
  }

  function cashBoxScreen(s) {
    keep(s);
    const st = s.staff;
    const cb = st.cashBox || {};
    const r = cb.result;
    if (r) {
      return [
        h('h1', {}, t('staffCashBoxTitle')),
        h('table', { class: 'staff-box', id: 'staff-box-result' },
          h('thead', {}, h('tr', {}, h('th', {}, t('staffDenom')), h('th', {}, t('staffExpected')), h('th', {}, t('staffCounted')), h('th', {}, t('staffDiff')))),
          h('tbody', {}, r.lines.map((l) => h('tr', { class: l.counted !== l.expected ? 'mismatch' : '', id: `staff-box-line-${l.value}` },
            h('td', {}, yuan(l.value)), h('td', {}, String(l.expected)), h('td', {}, String(l.counted)),
            h('td', {}, l.counted === l.expected ? '0' : `${l.counted - l.expected > 0 ? '+' : ''}${l.counted - l.expected} ⚠`))))),
        h('dl', { class: 'facts' },
          h('dt', {}, t('staffExpected')), h('dd', { class: 'money' }, `${yuan(r.expectedTotal)} ${t('yuan')}`),
          h('dt', {}, t('staffCounted')), h('dd', { class: 'money' }, `${yuan(r.countedTotal)} ${t('yuan')}`),
          h('dt', {}, t('staffDiff')), h('dd', { class: 'money big' + (r.mismatch ? ' err' : ''), id: 'staff-box-diff' }, `${signed(r.difference)} ${t('yuan')}`)),
        h('p', { class: r.mismatch ? 'err' : 'ok', id: 'staff-box-verdict', 'data-mismatch': String(r.mismatch) }, r.mismatch ? t('staffBoxMismatch') : t('staffBoxMatch')),
        h('p', { class: 'hint', id: 'staff-box-sent', 'data-sent': String(cb.sent) }, cb.sent ? t('staffBoxSent') : t('staffBoxSending')),
        cb.printed ? h('p', { class: 'hint', id: 'staff-box-printed' }, TB.table('staffBoxPrinted')[cb.printed]) : null,
        backRow(),
      ];
    }
    if (!cb.removedAt) return [h('h1', {}, t('staffCashBoxTitle')), h('p', { class: 'warn', id: 'staff-box-not-removed' }, t('staffBoxNotRemoved')), staffNotice(st), backRow()];
    return [
      h('h1', {}, t('staffCashBoxTitle')),
      h('p', { class: 'hint', id: 'staff-box-removed-at' }, t('staffBoxRemovedAt', clock(cb.removedAt))),
      h('p', { class: 'hint' }, t('staffCountHint')),
      counter('staff-count', counts, !!st.busy),
      h('p', { class: 'big money', id: 'staff-count-total' }, `${t('staffTotal')} ${yuan(total(counts))} ${t('yuan')}`),
      staffNotice(st),
      backRow(h('button', { type: 'button', class: 'primary', id: 'staff-btn-count', onclick: () => act('Staff.CashCount', { counts: lines(counts) }) }, t('staffSubmitCount'))),
    ];
  }

  function refundScreen(s) {
    keep(s);
    const st = s.staff;
    const r = st.refund;
    return [
      h('h1', {}, t('staffRefundTitle')),
      r ? h('div', { class: 'card' }, h('dl', { class: 'facts' },
        h('dt', {}, t('voucherId')), h('dd', { id: 'staff-refund-id' }, r.voucherId),
        h('dt', {}, t('voucherIssued')), h('dd', {}, new Date(r.issuedAt).toLocaleString(TB.lang() === 'zh' ? 'zh-CN' : 'en-GB')),
        h('dt', {}, t('staffRefundAmount')), h('dd', { class: 'money big', id: 'staff-refund-amount' }, `${yuan(r.amount)} ${t('yuan')}`)))
        : h('p', { class: 'hint', id: 'staff-refund-hint' }, '⌗ ', t('staffRefundHint')),
      r && r.status === 'refunding' ? h('p', { class: 'hint' }, t('staffRefunding')) : null,
      r && r.status === 'refunded' ? h('p', { class: 'ok', id: 'staff-refund-done' }, '✔ ', t('staffRefunded', yuan(r.amount))) : null,
      staffNotice(st),
      backRow(r && r.status === 'ready' ? h('button', { type: 'button', class: 'primary', id: 'staff-btn-refund', disabled: !!st.busy, onclick: () => act('Staff.RefundConfirm') }, t('staffRefundConfirm')) : null),
    ];
  }

  TB.screen('staffPin', pinScreen, { tick: true });
  TB.screen('staffMenu', menuScreen);
  TB.screen('staffTopUp', topUpScreen);
  TB.screen('staffCashBox', cashBoxScreen);
  TB.screen('staffRefund', refundScreen);
})();
